"""Review on the work item page's hero cards: badges per size, Approve / Reject on a card (comfortable and in the
compact card's menu), and the compact grid, remembered per person."""

from __future__ import annotations

import re

import pytest

from services.config import get_settings
from services.identity import Actor, Role, acting_as, current_actor
from services.jobs import wait_for_job
from services.lifestyle import start_heroes_job
from services.preferences import GridDensity, get_preferences
from services.versions import ReviewDecisionOptions, review_history, set_review
from services.work_items import get_work_item
from tests.pages.conftest import open_page
from ui.card_review import card_note_key
from ui.grid_density import TOGGLE_KEY
from ui.hero_state import card_key, renewable_key

DETAIL = "pages/work_item.py"
ANA = Actor("ana@example.com", "Ana", Role.reviewer)
BEN = Actor("ben@example.com", "Ben", Role.reviewer)


@pytest.fixture
def heroes(demo):
    """Work item 12's heroes, made: {(shot, size): version id}."""
    assert wait_for_job(start_heroes_job(work_item_id="12").job_id, timeout=120).status == "succeeded"
    return {(shot.shot_id, row.size_label): row.version_id for shot in get_work_item("12").shots for row in shot.rows}


def card_markdown(at, shot_id: str) -> str:
    [found] = [m.value for m in at.markdown if f"{shot_id} · " in m.value and "position:relative" in m.value]
    return found


def badges(markdown: str) -> list[str]:
    """The pills' tooltips: `Desktop: Approved by Ana · 2026-12-01 14:03 UTC`."""
    return re.findall(r'<span title="([^"]+)" aria-label', markdown)


def test_each_card_shows_every_sizes_state_on_its_thumbnail(heroes):
    with acting_as(ANA):
        set_review(version_id=heroes[("KT-1", "Desktop")], options=ReviewDecisionOptions(state="approved"))
    with acting_as(BEN):
        set_review(
            version_id=heroes[("KT-1", "Tablet")], options=ReviewDecisionOptions(state="rejected", note="Logo cut off")
        )
    at = open_page(DETAIL, id="12")
    card = card_markdown(at, "KT-1")
    assert [b.split(" by ")[0] for b in badges(card)] == [
        "Desktop: Approved",
        "Tablet: Rejected",
        "Mobile: Pending review",
    ]
    assert re.search(r">D ✓</span>.*>T ✗</span>.*>M •</span>", card)
    assert "#4ade80" in card  # the shown size's (Desktop's) edge and line are green
    assert badges(card_markdown(at, "KT-2")) == [f"{s}: Pending review" for s in ("Desktop", "Tablet", "Mobile")]


def test_a_size_without_an_image_says_so(demo):
    at = open_page(DETAIL, id="12")
    assert badges(card_markdown(at, "KT-1")) == [f"{s}: No image yet" for s in ("Desktop", "Tablet", "Mobile")]
    approve = at.button(key=card_key("approve", "12", "KT-1"))
    assert approve.disabled and approve.help == "No image to review yet"


def test_approve_and_reject_with_a_note_on_a_card(heroes):
    at = open_page(DETAIL, id="12")
    me = current_actor().label
    at.button(key=card_key("approve", "12", "KT-2")).click().run()
    assert not at.exception
    card = card_markdown(at, "KT-2")
    assert f"Desktop: Approved by {me} · " in badges(card)[0] and f"✓ Approved by {me} · " in card
    assert at.button(key=card_key("approve", "12", "KT-2")).disabled  # it is approved
    assert card_note_key("12", "KT-2", "Desktop") not in [
        t.key for t in at.text_input
    ]  # only while Reject's popover is open

    reject_popover = renewable_key("reject_open", "12", "KT-2", at.session_state)
    at.session_state[reject_popover] = True
    at.run()
    at.text_input(key=card_note_key("12", "KT-2", "Desktop")).input("Horizon tilted")
    at.button(key=card_key("reject", "12", "KT-2")).click().run()
    assert not at.exception
    history = review_history([heroes[("KT-2", "Desktop")]])[heroes[("KT-2", "Desktop")]]
    assert [(d.decision, d.note, d.reviewer) for d in history] == [
        ("rejected", "Horizon tilted", me),
        ("approved", None, me),
    ]
    assert f"✗ Rejected by {me} · " in card_markdown(at, "KT-2")
    assert renewable_key("reject_open", "12", "KT-2", at.session_state) != reject_popover  # closed: a new popover
    assert [t.value.split("  \n")[0] for t in at.toast][-1] == "**KT-2 · Desktop rejected**"
    at.session_state[reject_popover] = True  # the browser still says `open` for the one it showed
    at.run()
    assert card_note_key("12", "KT-2", "Desktop") not in [t.key for t in at.text_input]  # it stays closed


@pytest.mark.parametrize("compact", [False, True], ids=["card", "compact card's menu"])
def test_a_note_typed_and_not_sent_is_there_when_the_popover_opens_again(heroes, compact):
    at = open_page(DETAIL, id="12")
    if compact:
        at.toggle(key=TOGGLE_KEY).set_value(True).run()
    popover = renewable_key("menu" if compact else "reject_open", "12", "KT-2", at.session_state)
    note = card_note_key("12", "KT-2", "Desktop")
    at.session_state[popover] = True
    at.run()
    at.text_input(key=note).input("Horizon tilted").run()
    at.session_state[popover] = False  # closed without sending, e.g. a click on the picture beside it
    at.run()
    assert note not in [t.key for t in at.text_input]
    at.session_state[popover] = True
    at.run()
    assert at.text_input(key=note).value == "Horizon tilted"
    at.button(key=card_key("reject", "12", "KT-2")).click().run()
    history = review_history([heroes[("KT-2", "Desktop")]])[heroes[("KT-2", "Desktop")]]
    assert [(d.decision, d.note) for d in history] == [("rejected", "Horizon tilted")]


def test_a_cards_note_stays_with_the_size_it_was_typed_for(heroes):
    at = open_page(DETAIL, id="12")

    def open_reject():
        at.session_state[renewable_key("reject_open", "12", "KT-2", at.session_state)] = True
        at.run()

    open_reject()
    at.text_input(key=card_note_key("12", "KT-2", "Desktop")).input("Logo cut off").run()
    at.segmented_control(key=card_key("size", "12", "KT-2")).set_value("Tablet").run()
    open_reject()
    note = at.text_input(key=card_note_key("12", "KT-2", "Tablet"))
    assert note.value == "" and note.label == "Note on Tablet"
    at.segmented_control(key=card_key("size", "12", "KT-2")).set_value("Desktop").run()
    open_reject()
    assert at.text_input(key=card_note_key("12", "KT-2", "Desktop")).value == "Logo cut off"


def test_a_viewer_sees_the_state_but_cannot_decide_and_keeps_their_own_density(heroes, monkeypatch):
    with acting_as(ANA):
        set_review(version_id=heroes[("KT-3", "Desktop")], options=ReviewDecisionOptions(state="approved"))
    monkeypatch.setenv("RESHOOT_AUTH", "oidc")
    get_settings.cache_clear()
    vic = {"is_logged_in": True, "email": "vic@example.com", "name": "Vic"}
    at = open_page(DETAIL, user=vic, id="12")
    assert "Desktop: Approved by Ana · " in badges(card_markdown(at, "KT-3"))[0]
    approve = at.button(key=card_key("approve", "12", "KT-1"))
    assert approve.disabled and approve.help.startswith("Needs the reviewer role; you are a viewer.")
    at.toggle(key=TOGGLE_KEY).set_value(True).run()  # a viewer has a grid too
    assert not at.exception
    with acting_as(Actor("vic@example.com", "Vic", Role.viewer)):
        assert get_preferences().grid_density is GridDensity.compact
    assert get_preferences().grid_density is GridDensity.comfortable  # the local user's is untouched


def test_the_compact_grid_is_remembered_for_the_person_in_a_new_session(heroes):
    at = open_page(DETAIL, id="12")
    assert at.toggle(key=TOGGLE_KEY).value is False
    assert at.button(key=card_key("regenerate", "12", "KT-1"))  # comfortable: actions on the card
    at.toggle(key=TOGGLE_KEY).set_value(True).run()
    assert not at.exception
    assert get_preferences().grid_density is GridDensity.compact
    assert not [
        b
        for b in at.button
        if (b.key or "").startswith((card_key("regenerate", "12", ""), card_key("approve", "12", "")))
    ]
    assert [b.key for b in at.button if (b.key or "").startswith(card_key("view", "12", ""))] == [
        card_key("view", "12", f"KT-{n}") for n in (1, 2, 3)
    ]

    again = open_page(DETAIL, id="12")  # another session (another browser) of the same person
    assert again.toggle(key=TOGGLE_KEY).value is True
    assert not [b for b in again.button if (b.key or "").startswith(card_key("regenerate", "12", ""))]
    assert "KT-1 · KIT-CASTIRON-28" in card_markdown(again, "KT-1")

    again.toggle(key=TOGGLE_KEY).set_value(False).run()
    assert get_preferences().grid_density is GridDensity.comfortable
    assert again.button(key=card_key("regenerate", "12", "KT-1"))


def test_the_compact_cards_menu_reviews_regenerates_and_opens_the_large_view(heroes):
    at = open_page(DETAIL, id="12")
    at.toggle(key=TOGGLE_KEY).set_value(True).run()
    menu = renewable_key("menu", "12", "KT-1", at.session_state)
    at.session_state[menu] = True  # open KT-1's ⋮ menu
    at.run()
    assert not at.exception
    assert at.button(key=card_key("regenerate", "12", "KT-1")) and at.file_uploader  # its actions, only while open
    at.text_input(key=card_note_key("12", "KT-1", "Desktop")).input("Warm light, good")
    at.button(key=card_key("approve", "12", "KT-1")).click().run()
    assert not at.exception
    [decision] = review_history([heroes[("KT-1", "Desktop")]])[heroes[("KT-1", "Desktop")]]
    assert (decision.decision, decision.note) == ("approved", "Warm light, good")
    assert re.search(r"✓ [^<]+ · \d\d-\d\d \d\d:\d\d</div>", card_markdown(at, "KT-1"))  # compact: who, when
    assert renewable_key("menu", "12", "KT-1", at.session_state) != menu  # closed: a new menu

    at.segmented_control(key=card_key("size", "12", "KT-1")).set_value("Mobile").run()
    at.button(key=card_key("view", "12", "KT-1")).click().run()  # the thumbnail
    assert (at.query_params["shot"], at.query_params["size"]) == ("KT-1", "Mobile")


def test_sessions_on_the_same_grid_page_hold_its_read_models_once(heroes):
    """A closed tab's session is kept for a while (server.disconnectedSessionTTL): sessions that read equal cards share
    one copy, and each still shows what it read itself."""
    shot, notes = card_key("shot", "12", "KT-1"), card_key("prompt_notes", "12", "KT-1")
    first, second = open_page(DETAIL, id="12"), open_page(DETAIL, id="12")
    assert first.session_state[shot] is second.session_state[shot]
    assert first.session_state[notes] is second.session_state[notes]
    with acting_as(ANA):
        set_review(version_id=heroes[("KT-1", "Desktop")], options=ReviewDecisionOptions(state="approved"))
    third = open_page(DETAIL, id="12")
    assert third.session_state[shot] is not first.session_state[shot]

    def desktop(session) -> str:
        return next(row.review_state for row in session.session_state[shot].rows if row.size_label == "Desktop")

    assert (desktop(first), desktop(third)) == ("pending", "approved")  # what each read
    other = card_key("shot", "12", "KT-2")
    assert third.session_state[other] is first.session_state[other]  # unchanged cards stay shared
