"""Everything about the data an analyst brings, before any model sees it.

- :mod:`~finml.data.reader`: CSV, Excel and Parquet uploads into a DataFrame, with a
  specific message for every way a file can be broken;
- :mod:`~finml.data.schema`: the kind of each column, target candidates, default features;
- :mod:`~finml.data.target`: target checks, the positive class, leakage screening;
- :mod:`~finml.data.images`, :mod:`~finml.data.duplicates`: the safe image reader (PNG,
  JPEG, DICOM, ZIP) and near-duplicate grouping;
- :mod:`~finml.data.split`: stratified, group and out-of-time splits and their audit;
- :mod:`~finml.data.spec`: the analyst's choices as plain dataclasses;
- :mod:`~finml.data.staging`, :mod:`~finml.data.demo`: datasets in the workspace under random
  ids; the built-in demos.
"""
