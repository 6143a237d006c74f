"""finml: entry point. Page config, navigation, and the one error boundary of every page."""

import streamlit as st

from pages.common import show_unexpected

st.set_page_config(page_title="finml studio", page_icon=":material/insights:", layout="wide")

navigation = st.navigation(
    [
        st.Page("pages/data.py", title="Data", icon=":material/table_view:", default=True),
        st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
        st.Page("pages/evaluate.py", title="Evaluate", icon=":material/analytics:"),
        st.Page("pages/predict.py", title="Predict", icon=":material/online_prediction:"),
        st.Page("pages/runs.py", title="Runs", icon=":material/history:"),
    ]
)
try:
    navigation.run()
except Exception as exc:  # st.stop / st.rerun / switch_page are not Exceptions: they pass
    show_unexpected(exc)
