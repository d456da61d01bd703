"""The script's settings rules: names, labels, booleans, API arguments, infotext and paste."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from latent_upscale import METHODS, SCHEDULES
from latent_upscale import options as o


def _case_variants(text: str) -> st.SearchStrategy[str]:
    return st.lists(st.booleans(), min_size=len(text), max_size=len(text)).map(
        lambda flips: "".join(
            c.upper() if f else c.lower() for c, f in zip(text, flips, strict=True)
        )
    )


def test_defaults_are_the_documented_ones():
    assert o.Settings() == o.Settings("nearest-exact", "simple", True)
    assert o.parse_args([]) == o.Settings()
    assert o.parse_args([None, None, None]) == o.Settings()


@pytest.mark.parametrize("name", list(METHODS))
def test_every_method_resolves_by_name_and_label(name):
    assert o.resolve_method(name) == name
    assert o.resolve_method(METHODS[name].label) == name
    assert o.method_label(name) == METHODS[name].label


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_every_schedule_resolves_by_name_and_label(name):
    assert o.resolve_scheduler(name) == name
    assert o.resolve_scheduler(SCHEDULES[name].label) == name
    assert o.scheduler_label(name) == SCHEDULES[name].label


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(list(METHODS)).flatmap(lambda n: st.tuples(st.just(n), _case_variants(n))))
def test_method_names_are_case_insensitive(pair):
    name, variant = pair
    assert o.resolve_method(variant) == name


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from([s.label for s in SCHEDULES.values()]).flatmap(
        lambda label: st.tuples(st.just(label), _case_variants(label))
    )
)
def test_schedule_labels_are_case_insensitive(pair):
    label, variant = pair
    assert o.scheduler_label(o.resolve_scheduler(variant)) == label


@pytest.mark.parametrize("bad", ["linear", "trilinear", "", "bilinear2", 3, ["bilinear"]])
def test_unknown_method_lists_the_valid_ones(bad):
    with pytest.raises(ValueError, match="unknown upscale method") as err:
        o.resolve_method(bad)
    for name in METHODS:
        assert name in str(err.value)


@pytest.mark.parametrize("bad", ["karass", "", "Turbo", 7])
def test_unknown_scheduler_lists_the_valid_ones(bad):
    with pytest.raises(ValueError, match="unknown scheduler") as err:
        o.resolve_scheduler(bad)
    for name in SCHEDULES:
        assert name in str(err.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), (False, False), ("True", True), ("false", False), ("ON", True), ("no", False),
     (1, True), (0, False), ("1", True), ("0", False), (None, True)],
)  # fmt: skip
def test_parse_bool(value, expected):
    assert o.parse_bool(value) is expected


@pytest.mark.parametrize("bad", ["maybe", 2, 0.5, [True]])
def test_parse_bool_refuses_other_values(bad):
    with pytest.raises(ValueError, match="true or false"):
        o.parse_bool(bad)


def test_parse_args_takes_defaults_for_missing_and_none():
    assert o.parse_args(["Bislerp"]) == o.Settings("bislerp", "simple", True)
    assert o.parse_args([None, "KARRAS"]) == o.Settings("nearest-exact", "karras", True)
    assert o.parse_args(["area", None, "false"]) == o.Settings("area", "simple", False)


def test_parse_args_refuses_extra_arguments():
    with pytest.raises(ValueError, match="at most 6"):
        o.parse_args(["area", "simple", True, 2, 2, 0.3, "extra"])


def test_parse_args_reads_the_pass_arguments_in_ui_order():
    settings = o.parse_args(["area", "simple", True, "1.5", 3.0, "0.25"])
    assert (settings.scale, settings.passes, settings.later_denoise) == (1.5, 3, 0.25)
    assert o.parse_args(["area", None, None, None, None, None]) == o.Settings("area")


@pytest.mark.parametrize(
    ("index", "bad", "message"),
    [
        (3, -1, "upscale by"),
        (3, 8.5, "upscale by"),
        (3, "two", "upscale by must be a number"),
        (3, float("nan"), "upscale by"),
        (4, 0, "passes"),
        (4, 1.5, "passes"),
        (4, 5, "passes"),
        (5, 1.01, "later passes"),
        (5, True, "later passes"),
    ],
)
def test_parse_args_refuses_bad_pass_arguments(index, bad, message):
    args = ["area", "simple", True, None, None, None]
    args[index] = bad
    with pytest.raises(ValueError, match=message):
        o.parse_args(args)


def test_settings_are_canonical_whatever_the_spelling():
    assert o.Settings("Nearest (exact)", "Align Your Steps", "off") == o.Settings(
        "nearest-exact", "align_your_steps", False
    )


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(list(METHODS)),
    st.sampled_from(list(SCHEDULES)),
    st.booleans(),
    st.booleans(),
)
def test_infotext_round_trip(method, scheduler, full_steps, method_used):
    chosen = o.Settings(method, scheduler, full_steps)
    params = o.infotext_params(chosen, method_used=method_used)
    assert set(params) <= {o.KEY_METHOD, o.KEY_SCHEDULER, o.KEY_FULL_STEPS}
    assert all(isinstance(v, str) for v in params.values())
    pasted = [o.paste_method(params), o.paste_scheduler(params), o.paste_full_steps(params)]
    if method_used:
        assert o.parse_args(pasted) == chosen
    else:
        assert pasted[0] is None
        assert o.KEY_METHOD not in params


def test_infotext_names_the_schedule_that_ran():
    params = o.infotext_params(o.Settings(scheduler="karras"), scheduler_used="automatic")
    assert params[o.KEY_SCHEDULER] == "automatic"


def test_paste_ignores_missing_and_foreign_values():
    assert o.paste_method({}) is None
    assert o.paste_scheduler({"Latent upscale scheduler": "no such thing"}) is None
    assert o.paste_full_steps({"Latent upscale full steps": "perhaps"}) is None
    assert o.paste_full_steps({"Latent upscale full steps": "False"}) is False
