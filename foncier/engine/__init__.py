"""The scoring engine: pure computation on GeoDataFrames, no files and no maps.

Profiles, candidate sites, measures and distances, transforms, exclusions, aggregation,
scoring, sensitivity, the dask path and the national ranking. Nothing here draws a map or
writes a report: that is :mod:`foncier.reports`; only the dask path and the national ranking
write their partitioned results, so that no process has to hold them.
"""
