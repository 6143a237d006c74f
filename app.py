"""finml: entry point. Page config and navigation only; each page lives in pages/."""

import streamlit as st

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
navigation.run()
