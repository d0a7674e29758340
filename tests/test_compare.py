"""Normalization before comparing: JSON by meaning, numbers vs strings, empty values."""

from __future__ import annotations

import json

from infra.compare import Difference, differences, normalize

POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["sqs:ReceiveMessage"], "Resource": "arn:a"},
    {"Effect": "Allow", "Action": ["logs:PutLogEvents", "logs:CreateLogStream"],
     "Resource": ["arn:b"]},
]}


def test_policy_statement_order_list_vs_string_and_whitespace():
    reordered = {"Version": "2012-10-17", "Statement": [
        {"Resource": ["arn:b"], "Effect": "Allow",
         "Action": ["logs:CreateLogStream", "logs:PutLogEvents"]},
        {"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": ["arn:a"]},
    ]}
    assert normalize(json.dumps(POLICY)) == normalize(json.dumps(reordered, indent=4))


def test_policy_with_one_more_statement_differs():
    more = json.loads(json.dumps(POLICY))
    more["Statement"].append({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "x"})
    assert normalize(json.dumps(POLICY)) != normalize(json.dumps(more))


def test_single_statement_object_equals_one_element_list():
    one = {"Statement": {"Effect": "Allow", "Action": "a:b", "Resource": "r"}}
    assert normalize(one) == normalize({"Statement": [one["Statement"]]})


def test_numbers_and_booleans_given_as_strings():
    assert normalize("360") == normalize(360) == 360
    assert normalize("true") is True and normalize(False) is False
    assert normalize(5.0) == 5 and normalize("2012-10-17") == "2012-10-17"
    assert normalize('{"maxReceiveCount": "5"}') == normalize({"maxReceiveCount": 5})


def test_empty_values_are_absent():
    assert normalize({}) is None and normalize([]) is None
    assert differences({"tags": {}}, {}) == []


def test_differences_lists_only_properties_the_code_sets():
    expected = {"timeout": 30, "memorySize": None, "code": {"x": 1}, "name": "f"}
    live = {"timeout": "60", "memorySize": 512, "name": "f", "runtime": "python3.12"}
    assert differences(expected, live, skip={"code"}) == [Difference("timeout", 30, "60")]


def test_tag_maps_compare_by_content():
    assert differences({"tags": {"a": "1", "b": "2"}}, {"tags": {"b": "2", "a": "1"}}) == []
    assert differences({"tags": {"a": "1"}}, {"tags": {"a": "2"}}) != []
