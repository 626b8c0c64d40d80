"""Hero prompts on the card: the prompt popover (editor only while open), the dirty mark, regenerate uses the
edited prompt, the rejected note in the card's texts, in Regenerate shot's tooltip and in the Actions panel."""

from __future__ import annotations

import json

from streamlit.components.v2.bidi_component.main import _make_trigger_id

from services.hero_prompts import shot_prompt
from services.identity import Actor, Role, acting_as
from services.versions import ReviewDecisionOptions, list_versions, set_review
from services.work_items import get_work_item
from tests.pages.conftest import open_page, texts
from tests.pages.test_hero_review import card_markdown
from tests.pages.test_work_item import DETAIL, regenerate
from ui.actions_panel import panel_key
from ui.bulk_review import select_key
from ui.grid_density import TOGGLE_KEY
from ui.hero_prompt import PROMPT_DIRTY
from ui.hero_state import card_key, renewable_key

EDITED = "Five knives fanned out on slate, top-down, soft window light"
EDITOR = card_key("prompt", "12", "KT-1")


def editor_data(at) -> dict:
    [editor] = [e for e in at.get("bidi_component") if e.key == EDITOR]
    return json.loads(editor.proto.json)


def send_save(at, text: str) -> None:
    """What the debounced editor's JavaScript sends after a pause in typing: its `save` trigger with the text."""
    [editor] = [e for e in at.get("bidi_component") if e.key == EDITOR]
    states = at._tree.get_widget_states()
    trigger = states.widgets.add()
    trigger.id = _make_trigger_id(editor.proto.id, "events")
    trigger.json_trigger_value = json.dumps([{"event": "save", "value": text}])
    at._run(states)


def save_in_editor(at, text: str) -> None:
    at.session_state[card_key("prompt_open", "12", "KT-1")] = True  # AppTest sends no popover state: keep it open
    send_save(at, text)


def test_edit_a_hero_prompt_then_regenerate_uses_it(demo):
    at = open_page(DETAIL, id="12")
    regenerate(at, "KT-1")
    assert EDITOR not in at.session_state and PROMPT_DIRTY not in str([m.value for m in at.markdown])
    assert not [e for e in at.get("bidi_component") if e.key == EDITOR]  # no editor while the popover is closed
    at.session_state[card_key("prompt_open", "12", "KT-1")] = True  # the popover opened: its editor is drawn
    at.run()
    shown = editor_data(at)
    assert shown["value"] == shot_prompt(work_item_id="12", shot_id="KT-1").prompt and shown["debounceMs"] == 500

    save_in_editor(at, EDITED)
    assert not at.exception, [e.value for e in at.exception]
    assert shot_prompt(work_item_id="12", shot_id="KT-1").prompt == EDITED
    kt1 = next(m.value for m in at.markdown if "KT-1 · " in m.value and "<div" in m.value)
    assert PROMPT_DIRTY in kt1  # the card's dirty mark, as the storyboard's

    regenerate(at, "KT-1")
    row = get_work_item("12").shots[0].rows[0]
    [newest, *_] = list_versions("hero", row.id)
    assert newest.prompt == EDITED and newest.is_current
    kt1 = next(m.value for m in at.markdown if "KT-1 · " in m.value and "<div" in m.value)
    assert PROMPT_DIRTY not in kt1


def test_a_rejected_heroes_note_shows_on_its_card_and_in_the_actions_panel(demo):
    at = open_page(DETAIL, id="12")
    regenerate(at, "KT-1")
    row = get_work_item("12").shots[0].rows[0]
    with acting_as(Actor("ana@example.com", "Ana", Role.reviewer)):
        set_review(version_id=row.version_id, options=ReviewDecisionOptions(state="rejected", note="Blade looks bent"))
    at = open_page(DETAIL, id="12")
    assert "Rejected: Desktop by Ana, “Blade looks bent”" in card_markdown(at, "KT-1")  # the card's one Markdown
    assert "Blade looks bent" not in card_markdown(at, "KT-2")
    assert "“Blade looks bent”" in at.button(key=card_key("regenerate", "12", "KT-1")).help
    assert "Blade looks bent" not in at.button(key=card_key("regenerate", "12", "KT-2")).help

    at.multiselect(key=panel_key("shots", "12")).set_value(["KT-1"]).run()
    assert "KT-1 Desktop v1 rejected by Ana: “Blade looks bent”" in texts(at)
    at.multiselect(key=panel_key("shots", "12")).set_value(["KT-2"]).run()
    assert "rejected by Ana" not in texts(at)

    at.checkbox(key=select_key("12", "KT-1")).check().run()  # the bulk bar's selection, before Regenerate 1 shot
    assert "Rejected heroes in the selected shots:" in texts(at) and "Blade looks bent" in texts(at)


def test_a_compact_cards_menu_edits_the_prompt_too(demo):
    at = open_page(DETAIL, id="12")
    regenerate(at, "KT-1")
    at.toggle(key=TOGGLE_KEY).set_value(True).run()
    assert not [e for e in at.get("bidi_component") if e.key == EDITOR]  # nothing while the menu is closed
    menu = renewable_key("menu", "12", "KT-1", at.session_state)
    at.session_state[menu] = True  # open KT-1's ⋮ menu
    at.run()
    assert editor_data(at)["value"] == shot_prompt(work_item_id="12", shot_id="KT-1").prompt
    at.session_state[menu] = True  # AppTest sends no popover state: keep it open
    send_save(at, EDITED)
    assert not at.exception, [e.value for e in at.exception]
    assert shot_prompt(work_item_id="12", shot_id="KT-1").prompt == EDITED
