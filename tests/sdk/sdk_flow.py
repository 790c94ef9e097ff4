"""Drives payledger with the real commercetools Python SDK (current API).

Run by the Rust end-to-end test with PAYLEDGER_URL, PAYLEDGER_PROJECT,
PAYLEDGER_CLIENT_ID and PAYLEDGER_CLIENT_SECRET in the environment. Every
check is an assert; the script prints "sdk flow ok" when all of them hold.
"""

import os

os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")

from commercetools import CommercetoolsError  # noqa: E402
from commercetools.platform.client import Client  # noqa: E402
from commercetools.platform.models import (  # noqa: E402
    Money,
    PaymentAddTransactionAction,
    PaymentChangeTransactionStateAction,
    PaymentDraft,
    PaymentMethodInfo,
    PaymentSetKeyAction,
    PaymentSetStatusInterfaceCodeAction,
    PaymentUpdate,
    TransactionDraft,
    TransactionState,
    TransactionType,
)

url = os.environ["PAYLEDGER_URL"]
project = os.environ["PAYLEDGER_PROJECT"]
client = Client(
    client_id=os.environ["PAYLEDGER_CLIENT_ID"],
    client_secret=os.environ["PAYLEDGER_CLIENT_SECRET"],
    scope=[f"manage_project:{project}"],
    url=url,
    token_url=url,
)
payments = client.with_project_key(project).payments()

created = payments.post(
    PaymentDraft(
        key="sdk-order-1",
        amount_planned=Money(cent_amount=2599, currency_code="EUR"),
        payment_method_info=PaymentMethodInfo(payment_interface="stripe", method="card"),
        transactions=[
            TransactionDraft(
                type=TransactionType.AUTHORIZATION,
                amount=Money(cent_amount=2599, currency_code="EUR"),
            )
        ],
    )
)
assert created.version == 1, created.version
assert created.amount_planned.cent_amount == 2599
assert created.amount_planned.fraction_digits == 2
assert created.transactions[0].state == TransactionState.INITIAL

by_id = payments.with_id(created.id).get()
assert by_id.key == "sdk-order-1"
by_key = payments.with_key("sdk-order-1").get()
assert by_key.id == created.id
assert payments.with_key("no-such-key").get() is None, "404 maps to None"

page = payments.get(
    where=['paymentMethodInfo(paymentInterface = "stripe")', "amountPlanned(centAmount > 1000)"],
    sort=["createdAt desc"],
    limit=10,
    with_total=True,
)
assert page.total == 1 and page.count == 1, (page.total, page.count)
assert page.results[0].id == created.id
by_var = payments.get(where=["key in :keys"], predicate_var={"keys": ["sdk-order-1", "x"]})
assert by_var.count == 1

transaction_id = created.transactions[0].id
updated = payments.with_id(created.id).post(
    PaymentUpdate(
        version=created.version,
        actions=[
            PaymentChangeTransactionStateAction(
                transaction_id=transaction_id, state=TransactionState.SUCCESS
            ),
            PaymentSetStatusInterfaceCodeAction(interface_code="succeeded"),
            PaymentAddTransactionAction(
                transaction=TransactionDraft(
                    type=TransactionType.CHARGE,
                    amount=Money(cent_amount=2599, currency_code="EUR"),
                )
            ),
        ],
    )
)
assert updated.version == 4, updated.version
assert updated.transactions[0].state == TransactionState.SUCCESS
assert updated.payment_status.interface_code == "succeeded"
assert len(updated.transactions) == 2

# A stale version: a plain call raises with the current version...
stale = PaymentUpdate(version=1, actions=[PaymentSetKeyAction(key="sdk-order-1b")])
try:
    payments.with_id(created.id).post(stale)
    raise AssertionError("a stale version must fail")
except CommercetoolsError as error:
    assert error.errors[0]["code"] == "ConcurrentModification", error.errors
    assert error.errors[0]["currentVersion"] == 4, error.errors

# ...and the SDK's force-version retry succeeds with it.
forced = payments.with_id(created.id).post(stale, options={"force_version": True})
assert forced.key == "sdk-order-1b", forced.key
assert forced.version == 5, forced.version

deleted = payments.with_id(created.id).delete(version=forced.version)
assert deleted.id == created.id
assert payments.with_id(created.id).get() is None
print("sdk flow ok")
