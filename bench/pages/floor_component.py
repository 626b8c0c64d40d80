"""A card as one custom element: `?cards=` fragments, each mounting one Components-v2 component with the card's
data and three change callbacks (what a card drawn in JavaScript would need for select, approve and reject)."""

import streamlit as st

component = st.components.v2.component(
    "floor_card",
    html="<div class='card'></div>",
    js="export default function (c) { c.parentElement.querySelector('.card').textContent = JSON.stringify(c.data) }",
)


def changed() -> None:
    pass


def card(i: int) -> None:
    data = {"shot": f"OL-{i}", "sku": f"SKU-{i}", "thumb": f"/assets/{i}.webp", "size": "Desktop", "status": "pending"}
    component(data=data, key=f"card_{i}", on_select_change=changed, on_approve_change=changed, on_reject_change=changed)


for i in range(int(st.query_params["cards"])):
    st.fragment(card)(i)
