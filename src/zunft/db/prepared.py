"""Statements compiled once per dialect and run on the driver's cursor.

For the few statements on the hottest write path (sending a message runs about eight):
SQLAlchemy Core spends far more Python time preparing an execution (cache keys, parameter
processing, result set-up) than SQLite spends running it. A `Prepared` statement is built
with SQLAlchemy Core (so it is the same SQL on SQLite and PostgreSQL), compiled once per
dialect, and then executed on the raw DB-API cursor of the connection, inside the same
transaction. Use it only for statements whose parameters need no type processing (strings,
integers, bytes, booleans); everything else goes through `conn.execute`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler


class Prepared:
    def __init__(self, stmt: ClauseElement) -> None:
        self._stmt = stmt
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None]] = {}

    def _sql(self, conn: Connection) -> tuple[str, tuple[str, ...] | None]:
        name = conn.dialect.name
        found = self._compiled.get(name)
        if found is None:
            compiled = self._stmt.compile(dialect=conn.dialect)
            assert isinstance(compiled, SQLCompiler)
            positional = (
                tuple(compiled.positiontup)
                if compiled.positional and compiled.positiontup
                else None
            )
            found = (str(compiled), positional)
            self._compiled[name] = found
        return found

    def _params(self, order: tuple[str, ...] | None, params: Mapping[str, Any]) -> Any:
        return tuple(params[k] for k in order) if order is not None else params

    def _cursor(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        sql, order = self._sql(conn)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(sql, self._params(order, params))
        return cursor

    def run(self, conn: Connection, params: Mapping[str, Any]) -> None:
        """Execute an INSERT, UPDATE or DELETE once."""
        self._cursor(conn, params).close()

    def first(self, conn: Connection, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """Execute a SELECT and return its first row as a plain tuple (or None)."""
        cursor = self._cursor(conn, params)
        try:
            row = cursor.fetchone()
        finally:
            cursor.close()
        return None if row is None else tuple(row)

    def run_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        sql, order = self._sql(conn)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cursor.executemany(sql, [self._params(order, r) for r in rows])
        cursor.close()
