"""What the agent keeps and logs of a customer's personal details: its log lines carry them masked,
and a card number typed in the chat is kept only as its last four digits."""

from __future__ import annotations

import logging

import pytest

from tests.agent.conftest import AgentFactory, find_order


def test_the_agent_logs_a_customer_message_with_its_personal_details_masked(
    make_agent: AgentFactory, caplog: pytest.LogCaptureFixture
) -> None:
    _, customer = find_order(make_agent().store, "pending")
    h = make_agent()
    caplog.set_level(logging.INFO, logger="agent")
    first = f"Hi, I'm {customer.first_name} {customer.last_name}, my email is {customer.email}"
    assert h.agent.send("c", first).reply
    assert h.agent.state("c").customer_id == customer.id
    h.agent.send(
        "c",
        "my card 4111 1111 1111 1111 exp 04/27 cvv 123 was charged, refund it to "
        f"{customer.id}'s paypal_5364164; I live at 986 Sunset Drive, Suite 259, Denver, CO 80279",
    )

    # What a handler receives: the record's final text (the JSON log line is made from it).
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "agent")
    assert "turn 1: Hi, I'm [NAME], my email is [EMAIL]" in logged
    assert "verified Hi, I'm [NAME], my email is [EMAIL]" in logged
    assert (
        "turn 2: my card [CARD] exp [EXPIRY] cvv [CVV] was charged, refund it to [USER_ID]'s "
        "[PAYMENT_ID]; I live at [ADDRESS]"
    ) in logged
    for detail in (
        customer.email,
        customer.first_name,
        customer.last_name,
        customer.id,
        "1111",
        "04/27",
        "123",
        "paypal_5364164",
        "Sunset",
        "Suite",
        "Denver",
        "80279",
    ):
        assert detail not in logged, detail


def test_a_card_number_typed_in_the_chat_is_kept_as_its_last_four_digits(
    make_agent: AgentFactory,
) -> None:
    h = make_agent()
    r = h.agent.send("c", "can I pay with my card 5555 5555 5555 4444?")
    assert r.reply and "5555 5555" not in r.reply
    [said] = [m.content for m in h.agent.state("c").messages if m.type == "human"]
    assert said == "can I pay with my card •••• 4444?"
