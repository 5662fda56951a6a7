import numpy as np
import pytest

from aggregation.retirement import Evidence, RetirementRules, decide

SURE = np.array([0.995, 0.005])
UNSURE = np.array([0.6, 0.4])


def test_it_retires_on_the_posterior_after_the_minimum_count():
    assert decide(RetirementRules(), Evidence(3, SURE)) == "posterior_threshold"


def test_it_waits_for_the_minimum_count_even_when_sure():
    assert decide(RetirementRules(), Evidence(2, SURE)) is None


def test_it_retires_anyway_at_the_maximum_count():
    assert decide(RetirementRules(max_classifications=10), Evidence(10, UNSURE)) == "max_classifications"


def test_it_needs_a_low_box_risk_when_the_box_rule_is_on():
    rules = RetirementRules(box_risk_threshold=0.3)
    assert decide(rules, Evidence(5, SURE, box_risk=0.5)) is None
    assert decide(rules, Evidence(5, SURE, box_risk=0.1)) == "posterior_threshold"
    assert decide(rules, Evidence(5, SURE)) == "posterior_threshold"


def test_it_lets_a_confident_machine_retire_only_when_enabled():
    machine = np.array([0.05, 0.95])
    assert decide(RetirementRules(), Evidence(0, UNSURE, machine_probs=machine)) is None
    rules = RetirementRules(machine_threshold=0.9)
    assert decide(rules, Evidence(0, UNSURE, machine_probs=machine)) == "machine_threshold"


def test_it_round_trips_through_a_dict():
    rules = RetirementRules(task="T1", posterior_threshold=0.9, box_risk_threshold=0.5)
    assert RetirementRules.from_dict(rules.to_dict()) == rules


@pytest.mark.parametrize("data, message", [
    ({"posterior_treshold": 0.9}, "unknown retirement rule 'posterior_treshold'"),
    ({"posterior_threshold": 1.5}, "posterior_threshold"),
    ({"min_classifications": -1}, "min_classifications"),
    ({"min_classifications": 5, "max_classifications": 4}, "max_classifications"),
    ({"box_risk_threshold": 0}, "box_risk_threshold"),
    ({"machine_threshold": "high"}, "machine_threshold"),
    ([1, 2], "JSON object"),
])
def test_it_rejects_bad_rules_with_a_clear_message(data, message):
    with pytest.raises(ValueError, match=message):
        RetirementRules.from_dict(data)
