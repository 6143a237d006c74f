"""Reading, demo data and staging of datasets."""
