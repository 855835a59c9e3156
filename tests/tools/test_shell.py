from __future__ import annotations

import io

import pytest
from rich.console import Console
from sqlalchemy import select

from tools.models import Order
from tools.shell import Shell, ShellError, parse_call
from tools.store import Store


def run(store: Store, lines: list[str], answers: list[str] | None = None) -> str:
    out = io.StringIO()
    replies = iter(answers or [])
    shell = Shell(
        store,
        stdin=io.StringIO("\n".join(lines) + "\n"),
        console=Console(file=out, width=200, color_system=None),
        ask=lambda prompt: (out.write(prompt), next(replies))[1],
    )
    shell.run()
    return out.getvalue()


def pending_order_of(store: Store) -> Order:
    with store.read() as s:
        return s.scalars(select(Order).where(Order.status == "pending").order_by(Order.id)).first()  # type: ignore[return-value]


def test_parse_call_maps_positional_keyword_list_and_option_arguments() -> None:
    assert parse_call("get_order_details #W2611340") == (
        "get_order_details",
        {"order_id": "#W2611340"},
    )
    assert parse_call("return_delivered_order_items #W1 1,2 payment_method_id=gift_card_1") == (
        "return_delivered_order_items",
        {"order_id": "#W1", "item_ids": ["1", "2"], "payment_method_id": "gift_card_1"},
    )
    assert parse_call("check_availability 123 color=red size=M") == (
        "check_availability",
        {"product_id": "123", "options": {"color": "red", "size": "M"}},
    )
    assert parse_call('cancel_pending_order #W1 "no longer needed"')[1]["reason"] == (
        "no longer needed"
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("nope 1", "unknown tool"),
        ("get_order_details a b", "takes 1 argument"),
        ('x "', "quotation"),
    ],
)
def test_parse_call_rejects_what_it_cannot_map(line: str, message: str) -> None:
    with pytest.raises(ShellError, match=message):
        parse_call(line)


def test_reads_need_verification_and_show_only_the_verified_customers_orders(
    tau2_store: Store,
) -> None:
    out = run(
        tau2_store,
        [
            "get_order_details #W7678072",
            "find_user_id_by_email noah.brown7922@example.com",
            "get_order_details #W7678072",
            "get_order_details #W2611340",
        ],
    )
    assert "not authenticated" in out
    assert "Verified as noah_brown_6181" in out
    assert '"order_id": "#W7678072"' in out
    assert "Order #W2611340 was not found" in out
    assert "james_li_5688" not in out


def test_a_write_runs_only_after_the_person_confirms(tau2_store: Store) -> None:
    order = pending_order_of(tau2_store)
    with tau2_store.read() as s:
        from tools.models import Customer

        email = s.get(Customer, order.customer_id).email  # type: ignore[union-attr]
    call = f'cancel_pending_order {order.id} "no longer needed"'
    out = run(tau2_store, [f"find_user_id_by_email {email}", call], answers=["n"])
    assert "Confirm? [y/N]" in out and "Not done." in out
    with tau2_store.read() as s:
        assert s.get(Order, order.id).status == "pending"  # type: ignore[union-attr]

    out = run(tau2_store, [f"find_user_id_by_email {email}", call], answers=["y"])
    assert '"status": "cancelled"' in out
    with tau2_store.read() as s:
        assert s.get(Order, order.id).status == "cancelled"  # type: ignore[union-attr]


def test_a_write_over_the_approval_amount_is_not_done_on_a_yes_alone(
    tau2_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tools.models import Customer
    from tools.settings import get_settings

    with tau2_store.read() as s:
        order = s.scalars(
            select(Order).where(Order.status == "delivered").order_by(Order.id)
        ).first()
        assert order is not None
        email = s.get(Customer, order.customer_id).email  # type: ignore[union-attr]
        items = ",".join(i.item_id for i in order.items)
        pm = order.transactions[0].payment_method_id
        total = sum(i.price_cents for i in order.items)
    monkeypatch.setenv("CONCIERGE_APPROVAL_AMOUNT", "0")
    get_settings.cache_clear()
    try:
        out = run(
            tau2_store,
            [
                f"find_user_id_by_email {email}",
                f"return_delivered_order_items {order.id} {items} {pm}",
            ],
            answers=["y"],
        )
    finally:
        get_settings.cache_clear()
    assert f"It moves ${total / 100:.2f}" in out
    assert "a staff member must approve it" in out
    with tau2_store.read() as s:
        assert s.get(Order, order.id).status == "delivered"  # type: ignore[union-attr]


def test_help_tools_and_quit(tau2_store: Store) -> None:
    out = run(tau2_store, ["help", "tools", "help cancel_pending_order", "quit", "tools"])
    assert "Type a tool call" in out
    assert "exchange_delivered_order_items" in out
    assert "no longer needed" in out
    # Nothing after 'quit' runs: the tool table appears once.
    assert out.count("exchange_delivered_order_items") == 1
