"""What a scored study becomes for its readers: siting maps, exports and site sheets.

Reports read the engine's results (scores, breakdowns, nearest features); they never measure
anything themselves.
"""
