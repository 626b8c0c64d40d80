"""The empty page: the baseline for what any Streamlit run costs."""

import streamlit as st  # noqa: F401
