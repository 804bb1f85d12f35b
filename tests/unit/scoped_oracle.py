"""An independent reading of scoped SQL: sqlglot parses what the scope sends the database and lists every
reference to a tenant table that nothing scopes (tests only; the scope itself never imports sqlglot)."""

from __future__ import annotations

from typing import Any

import sqlglot
from sqlglot import exp

from telltale.platform.scoped import TENANT_TABLES


def _is_tenant_eq(node: Any, table: str | None = None) -> bool:
    """``[table.]tenant_id = :tenant_id``."""
    return (isinstance(node, exp.EQ) and isinstance(node.this, exp.Column) and node.this.name == "tenant_id"
            and (table is None or node.this.table == table) and isinstance(node.expression, exp.Placeholder)
            and node.expression.name == "tenant_id")


def _guarded(where: Any, ref: str) -> bool:
    """A WHERE whose top level is ``ref.tenant_id = :tenant_id AND (...)`` (or just the predicate)."""
    cond = where.this if isinstance(where, exp.Where) else None
    if _is_tenant_eq(cond, ref):
        return True
    return isinstance(cond, exp.And) and _is_tenant_eq(cond.this, ref) and isinstance(cond.expression, exp.Paren)


def _folded(ident: Any) -> str:
    """An identifier as PostgreSQL resolves it: unquoted ones lower-cased."""
    if not isinstance(ident, exp.Identifier):
        return ""  # a table function (jsonb_to_recordset(...)), no table
    return str(ident.this) if ident.quoted else str(ident.this).lower()


def unscoped(sql: str) -> list[str]:
    """The tenant-table references of ``sql`` (as the database would get it) that nothing scopes."""
    bad = []
    for table in sqlglot.parse_one(sql, read="postgres").find_all(exp.Table):
        if (_folded(table.args.get("db")), _folded(table.this)) not in TENANT_TABLES:
            continue
        parent = table.parent
        if isinstance(parent, exp.From) and isinstance(parent.parent, exp.Select):
            sel = parent.parent
            if (isinstance(sel.parent, exp.Subquery) and len(sel.expressions) == 1
                    and isinstance(sel.expressions[0], exp.Star) and not sel.args.get("joins")
                    and _is_tenant_eq(sel.args["where"].this if sel.args.get("where") else None)):
                continue
        if isinstance(parent, exp.Update | exp.Delete) and parent.this is table:
            ref = table.alias or table.name
            if _guarded(parent.args.get("where"), ref) or _guarded(parent.args.get("where"),
                                                                  f"{table.name}"):
                continue
        if isinstance(parent, exp.Schema) and isinstance(parent.parent, exp.Insert):
            ins = parent.parent
            cols = [c.name for c in parent.expressions]
            src = ins.expression
            rows = src.expressions if isinstance(src, exp.Values) else [src]
            firsts = [(r.expressions[0] if isinstance(r, exp.Tuple | exp.Select) else None) for r in rows]
            conflict = ins.args.get("conflict")
            update_guarded = (conflict is None or "UPDATE" not in str(conflict.args.get("action") or "")
                              or _guarded(conflict.args.get("where"), table.alias or table.name))
            if cols and cols[0] == "tenant_id" and all(
                    isinstance(f, exp.Placeholder) and f.name == "tenant_id" for f in firsts) and update_guarded:
                continue
        bad.append(f"{table.db}.{table.name} in {parent.key}")
    return bad
