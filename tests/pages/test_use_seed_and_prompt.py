"""`Use this seed / prompt`: from an earlier storyboard version (Scene Inspector) and an earlier hero version
(large view, compare), the prompt and the seed come back, and the next generation reproduces that image."""

from __future__ import annotations

from services.enums import TargetKind
from services.hero_prompts import UpdateShotPromptOptions, shot_prompt, update_shot_prompt
from services.storyboard import get_sentence
from services.versions import list_versions
from services.work_items import get_work_item
from tests.pages.conftest import open_page, texts
from tests.pages.test_storyboard import PAGE, finish_job, prompt_data, select, type_prompt
from tests.pages.test_work_item import DETAIL, regenerate
from ui.hero_card import compare_key
from ui.hero_state import card_key
from ui.scene_inspector import inspector_key


def test_an_earlier_storyboard_versions_seed_and_prompt_come_back_and_reproduce_it(demo):
    at = select(open_page(PAGE), 3)
    first_prompt = get_sentence("sent_004").image_prompt
    at.text_input(key=inspector_key("seed", "sent_004")).input("777").run()
    at.button(key=inspector_key("regenerate", "sent_004")).click().run()
    finish_job(at, "sent_004")
    type_prompt(at, "sent_004", "A night market, lanterns, steam from the cups")
    at.text_input(key=inspector_key("seed", "sent_004")).input("8").run()
    at.button(key=inspector_key("regenerate", "sent_004")).click().run()
    finish_job(at, "sent_004")
    [v2, v1] = list_versions(TargetKind.sentence, "sent_004")[:2]
    assert (v1.seed, v1.prompt, v2.seed) == (777, first_prompt, 8)

    at.button(key=inspector_key(f"use_{v1.id}", "sent_004")).click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert (
        get_sentence("sent_004").image_prompt == first_prompt and prompt_data(at, "sent_004")["value"] == first_prompt
    )
    assert at.text_input(key=inspector_key("seed", "sent_004")).value == "777"
    assert "Seed and prompt recalled" in texts(at)
    at.button(key=inspector_key("regenerate", "sent_004")).click().run()
    finish_job(at, "sent_004")
    newest = list_versions(TargetKind.sentence, "sent_004")[0]
    assert (newest.seed, newest.prompt, newest.version) == (777, first_prompt, 3)


def test_an_earlier_hero_versions_seed_and_prompt_come_back_from_the_large_view_and_compare(demo):
    at = open_page(DETAIL, id="12")
    regenerate(at, "KT-1")
    update_shot_prompt(work_item_id="12", shot_id="KT-1", options=UpdateShotPromptOptions(prompt="Knives on slate"))
    regenerate(at, "KT-1")
    row = get_work_item("12").shots[0].rows[0]
    [v2, v1] = list_versions(TargetKind.hero, row.id)[:2]
    assert v2.prompt == "Knives on slate" and v1.prompt != "Knives on slate"

    at.button(key=card_key("view", "12", "KT-1")).click().run()
    at.session_state[card_key("versions_open", "12", "KT-1")] = True  # the Versions expander opened
    at.run()
    assert "**v2** (current) · seed " in texts(at) and "Knives on slate" in texts(at)
    at.button(key=card_key(f"use_version_{v1.id}", "12", "KT-1")).click().run()
    assert not at.exception, [e.value for e in at.exception]
    recalled = shot_prompt(work_item_id="12", shot_id="KT-1")
    assert (recalled.prompt, recalled.seed, recalled.heroes_dirty) == (v1.prompt, v1.seed, True)

    update_shot_prompt(
        work_item_id="12", shot_id="KT-1", options=UpdateShotPromptOptions(prompt="Knives on slate")
    )  # back to v2's prompt
    at = open_page(DETAIL, id="12")
    at.button(key=card_key("compare", "12", "KT-1")).click().run()
    at.button(key=compare_key("use", v1.id)).click().run()
    assert shot_prompt(work_item_id="12", shot_id="KT-1").prompt == v1.prompt
    regenerate(at, "KT-1")
    newest = list_versions(TargetKind.hero, row.id)[0]
    assert (newest.version, newest.seed, newest.prompt) == (3, v1.seed, v1.prompt)
