"""Reusable Streamlit widgets for the dashboard's pages."""
