"""The least a grid of one fragment per card can cost: `?cards=` fragments, each drawing one Markdown element."""

import streamlit as st


def card(i: int) -> None:
    st.markdown(f"<div>OL-{i} · SKU-{i}</div>", unsafe_allow_html=True)


for i in range(int(st.query_params["cards"])):
    st.fragment(card)(i)
