"""The scoring engine: pure computation on GeoDataFrames, no files and no maps.

Profiles, candidate sites, measures and distances, transforms, exclusions, aggregation,
scoring, sensitivity and the dask path. Nothing here writes a file or draws a map: that is
:mod:`foncier.reports`.
"""
