"""The ``stock:`` section of a profile: which inventory a file belongs to, what its
rows are (figures, store movements, order lines, ERP acknowledgements), and the
rules for what the web may sell."""

from __future__ import annotations

import fnmatch
import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from filebridge import erpfile
from filebridge.layouts.fixed import FixedField
from filebridge.options import Deliver, Duration, Encoding, Model
from filebridge.orders.doc_files import DocumentFiles
from filebridge.orders.doc_rows import DocumentFields
from filebridge.schedule import Schedule

# Movement files for the ERP; written by filebridge/stock/movements.py.
FIELDS = ("seq", "id", "kind", "source", "order", "line", "sku", "location", "qty", "sold",
          "date", "time", "occurred", "oversold")


class MovementFiles(Model):
    """Movement files for the ERP: what the web sold, cancelled and refunded."""

    path: str = Field(description="where, relative to the profile's folder; may use {seq} "
                      "(with a format, e.g. {seq:06d}), {date}, {time}, {inventory}")
    format: Literal["csv", "fixed"] = Field("csv", description="csv, or fixed for an ERP that "
                                            "reads fixed-width records")
    fields: dict[str, FixedField] | None = Field(
        None, description="for fixed: the record layout; names among " + ", ".join(FIELDS)
        + " (qty is signed: negative leaves the stock; sold is units sold, negative for a "
        "return; oversold, optional: units of the row's SKU sold beyond the stock when the "
        "file was made, 0 when none; date and time: the ERP's local wall time, see "
        "feedback.timezone; occurred: ISO 8601 with the offset)")
    columns: list[str] = Field(default_factory=lambda: ["seq", "id", "kind", "order", "line",
                                                        "sku", "location", "qty", "occurred"],
                               description="for csv: the columns, among " + ", ".join(FIELDS)
                               + " (add oversold to tell the ERP which SKUs were sold beyond "
                               "the stock)")
    delimiter: str = Field(";", min_length=1, max_length=1, description="for csv")
    encoding: Encoding = Field("utf-8", description="output encoding")
    done_file: str | None = Field(None, description="empty marker written after the file")
    empty: bool = Field(False, description="write a file even when nothing moved")
    deliver: Deliver = []

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        return erpfile.numbered_path(v, "movement")

    @model_validator(mode="after")
    def _layout(self) -> MovementFiles:
        if self.format == "fixed" and not self.fields:
            raise ValueError("format: fixed needs fields (the ERP's record layout)")
        for name in [*(self.fields or {}), *self.columns]:
            if name not in FIELDS:
                raise ValueError(f"unknown movement field {name!r}; known: {', '.join(FIELDS)}")
        return self


class AsOf(Model):
    """When the ERP took its figures: a record field, the file name, or the file's time."""

    field: str | None = Field(None, description="mapped field holding the export time "
                              "(e.g. a header record's timestamp): ISO text or a date/time")
    name: str | None = Field(None, description="regular expression over the file name whose "
                             "first group is the time, e.g. 'STOCK_(\\d{8}_\\d{4})'")
    format: str = Field("%Y%m%d_%H%M", description="strptime format of the name's group")
    timezone: str | None = Field(None, description="zone of times without one, here and in "
                                 "stock.at (default: the machine's), e.g. Europe/Rome; also "
                                 "the zone of times written for the ERP when "
                                 "feedback.timezone is unset")

    @model_validator(mode="after")
    def _one(self) -> AsOf:
        if self.field and self.name:
            raise ValueError("give as_of.field or as_of.name, not both (neither: the file's "
                             "modification time)")
        if self.name is not None:
            try:
                if re.compile(self.name).groups < 1:
                    raise ValueError("as_of.name needs a group around the time, e.g. "
                                     "'STOCK_(\\d{8}_\\d{4})'")
            except re.error as e:
                raise ValueError(f"as_of.name {self.name!r}: {e}") from None
        return self


class Safety(Model):
    """Units kept back from the web. The first rule that matches a SKU applies."""

    qty: int = Field(ge=0, description="units to keep back")
    sku: str | None = Field(None, description="SKU pattern, e.g. 'BAG-*'")
    field: str | None = Field(None, description="a mapped field to test, e.g. category")
    equals: str | None = Field(None, description="the value that field must have")

    @model_validator(mode="after")
    def _test(self) -> Safety:
        if (self.field is None) != (self.equals is None):
            raise ValueError("safety: field and equals go together")
        return self

    def matches(self, sku: str, record: dict[str, Any]) -> bool:
        if self.sku is not None and not fnmatch.fnmatchcase(sku, self.sku):
            return False
        return self.field is None or str(record.get(self.field, "")) == self.equals


class StockSchedule(Model):
    """Time-based jobs ``filebridge watch`` runs for an inventory (figures profile)."""

    orders: Schedule | None = Field(None, description="pull the shops' orders, e.g. "
                                    "{every: 5m}; without a feedback schedule a movement "
                                    "file follows every pull that found something, and "
                                    "(filebridge serve) a second after a webhook's sale")
    feedback: Schedule | None = Field(None, description="write the movement file for the "
                                      "ERP, e.g. {cron: \"30 1 * * *\"}; then webhooks "
                                      "wait for it too")
    reconcile: Schedule | None = Field(None, description="compare ERP, ledger and shops, "
                                       "e.g. nightly")
    correct: bool = Field(False, description="the scheduled reconciliation also corrects "
                          "the shops")


# When a file counts as processed already (the profile's ``once:``), by stock role.
# An ERP figures export is a snapshot taken at its own time: the same bytes under a
# new name (or a new as_of) are a new snapshot and must be applied again. Store
# receipts and order lines are states without an export time: old bytes re-sent
# after a correction would undo it, so bytes seen before change nothing.
ONCE_BY_ROLE = {"figures": "name_and_content", "movements": "content", "orders": "content",
                "acks": "content"}


def default_once(stock: StockSpec | None) -> str:
    """The rule of once a profile gets when it names none (non-stock: by content)."""
    return "content" if stock is None else ONCE_BY_ROLE[stock.role]


class StockSpec(Model):
    """This profile's files belong to a shared inventory: the ERP's stock figures,
    store sales (POS), the shop's order lines, or the ERP's acknowledgements of
    movement files; the shops get what may be sold, not the file's quantity. Times
    without a zone, in as_of and in at:, are read in as_of.timezone (the machine's
    zone when unset).

    Which files count as processed already is the profile's ``once:`` (by default
    name and content for figures, content for the other roles)."""

    inventory: str = Field("main", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                           description="the shared stock this file belongs to; profiles "
                           "with the same name share figures, movements and shop state, and "
                           "a movements or orders file also goes to the sync: stock outputs "
                           "of the profiles in the same folder (and ledger) of that name")
    role: Literal["figures", "movements", "orders", "acks"] = Field(
        "figures", description="figures: the ERP's stock export; movements: store sales and "
        "returns (POS files), receipt by receipt; orders: order lines the shop drops as "
        "files (each row an order line as it is now); acks: the ERP's acknowledgements of "
        "movement files")
    sku: str = Field("sku", description="mapped field with the SKU")
    quantity: str = Field("stock", description="mapped field with the quantity (figures: "
                          "on hand; movements: units sold, negative for a return)")
    location: str | None = Field(None, description="mapped field with the warehouse or store "
                                 "code (unset: one location)")
    web: list[str] = Field(default_factory=list, description="warehouses that serve the web "
                           "(empty: all)")
    locations: dict[str, list[str]] = Field(
        default_factory=dict, description="shops with several stock locations: shop "
        "location -> the ERP warehouses it sells from, e.g. {Milano: [NEG1], Web: [MAG]}; an "
        "API sink whose location: is one of them gets that location's figure")
    as_of: AsOf = Field(default_factory=AsOf, description="figures: when the ERP took them")
    at: str | None = Field(None, description="movements, orders: mapped field with the time "
                           "of the sale (unset: the file's time); a time without a zone is "
                           "read in as_of.timezone")
    order: str = Field("order", description="orders: mapped field with the order id")
    line: str | None = Field(None, description="orders: mapped field with the order line "
                             "id (unset: the SKU)")
    status: str | None = Field(None, description="orders: mapped field with the order status")
    cancelled: list[str] = Field(["cancelled", "refunded", "failed", "annullato", "rimborsato"],
                                 description="orders: statuses whose lines hold no stock "
                                 "(compared without case)")
    receipt: str | None = Field(None, description="movements: mapped field identifying the "
                                "receipt; each receipt in a file is taken whole, as it now "
                                "stands, so a resent or reordered receipt changes nothing and a "
                                "corrected one replaces the old (unset: the file is one receipt)")
    receipt_line: str | None = Field(None, description="movements: mapped field with the "
                                     "line's number or id within its receipt (unset: a "
                                     "receipt's lines are keyed by SKU, and by location with "
                                     "stock.location, their quantities summed)")
    safety: list[Safety] = Field(default_factory=list, description="safety stock rules, "
                                 "first match wins, e.g. [{sku: 'BAG-*', qty: 2}, {qty: 1}]")
    erp_knows: Literal["acknowledged", "placed"] = Field(
        "placed", description="when the ERP has a web sale in its figures: once it "
        "acknowledged it (it sends acks back), or as soon as it was placed")
    orders: bool = Field(True, description="figures: pull the orders of the shops this "
                         "profile pushes to (their API sinks) before pushing, so a sale made "
                         "after the export is never sold again")
    ack: str = Field("seq", description="acks: mapped field with the sequence number of the "
                     "movement file the ERP confirms")
    acks_of: Literal["movements", "documents"] = Field(
        "movements", description="acks: what the numbers confirm: movement files "
        "(stock.feedback) or order document files (stock.documents)")
    feedback: MovementFiles | None = Field(None, description="figures: movement files for "
                                           "the ERP (filebridge feedback, or on a schedule); "
                                           "orders: one after each orders file; unset: none "
                                           "are written, the web's sales wait in the ledger "
                                           "(filebridge check says so)")
    documents: DocumentFiles | None = Field(
        None, description="figures: whole orders pulled from the shops as documents for the "
        "ERP (header, lines, trailer), written after each scheduled order pull and by "
        "filebridge feedback; orders: the file's orders as documents (see "
        "document_fields), a file of them written after each orders file; unset: none")
    document_fields: DocumentFields | None = Field(
        None, description="orders, with documents: which mapped fields hold each order's "
        "header and line fields (unset: only number, date, SKU, quantity and status)")
    schedule: StockSchedule = Field(default_factory=StockSchedule, description="figures: "
                                    "jobs filebridge watch runs on a timetable")
    overdue: Duration = Field(6 * 3600.0, description="report web movements the ERP has not "
                              "acknowledged after this long (erp_knows: acknowledged)")

    @model_validator(mode="after")
    def _receipt_lines(self) -> StockSpec:
        if self.receipt_line is not None and self.receipt is None:
            raise ValueError("receipt_line needs receipt (the field identifying the receipt "
                             "the line belongs to)")
        return self

    @model_validator(mode="after")
    def _document_fields(self) -> StockSpec:
        if self.document_fields is not None and (self.role != "orders"
                                                 or self.documents is None):
            raise ValueError("document_fields: for a profile with role: orders and "
                             "documents (the orders file's fields of a document)")
        if self.documents is not None and self.role not in ("figures", "orders"):
            raise ValueError(f"documents: role {self.role} has no orders to make documents of "
                             "(figures: the shops' orders; orders: the file's)")
        return self

    @model_validator(mode="after")
    def _rules_on_figures(self) -> StockSpec:
        if self.role in ("movements", "orders"):
            given = sorted(k for k in ("web", "locations", "safety", "erp_knows") if k in
                           self.model_fields_set)
            if given:
                raise ValueError(f"{', '.join(given)}: set on the profile with role: figures "
                                 f"of this inventory; {self.role} profiles apply its rules")
        return self
