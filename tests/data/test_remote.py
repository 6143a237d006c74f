"""Staged data behind a tracking server that does not answer: the read says the server is
down (with its address), never that the dataset is gone."""

from __future__ import annotations

import pytest

from finml.config import get_settings
from finml.data.staging import load_staged
from finml.errors import StoreError
from tests.e2e.conftest import _free_port


def test_a_dataset_behind_a_tracking_server_that_is_down_says_so(monkeypatch):
    url = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    with pytest.raises(StoreError, match=f"tracking server at {url} did not answer. Check"):
        load_staged("0123456789abcdef-" + "0" * 32, get_settings())
