"""An SQLite kernel in 50 lines: the example of docs/write-a-kernel.md."""

import html
import sqlite3
from pykernel.wrapper import KernelError, WrapperKernel, launch


class SQLiteKernel(WrapperKernel):
    banner = f"SQLite {sqlite3.sqlite_version}, in memory"
    implementation = kernel_name = "sqlite"
    display_name = "SQLite"
    language_info = {"name": "sql", "mimetype": "application/sql", "file_extension": ".sql"}
    db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
    keywords = "SELECT FROM WHERE INSERT INTO VALUES CREATE TABLE UPDATE DELETE".split()

    def execute(self, code):
        result, statement = None, ""
        for part in code.split(";"):  # a ";" inside a string does not end a statement
            statement += part
            if not sqlite3.complete_statement(statement + ";"):
                statement += ";"
            elif statement.strip():
                result, statement = self.run(statement), ""
        return self.run(statement) if statement.strip(" ;\n") else result

    def run(self, sql):
        try:
            cursor = self.db.execute(sql)
        except sqlite3.Error as e:
            raise KernelError(type(e).__name__, str(e)) from None
        if cursor.description:  # a query: its rows are the result
            rows = [[d[0] for d in cursor.description], *cursor.fetchall()]
            cells = ["".join(f"<td>{html.escape(str(v))}</td>" for v in row) for row in rows]
            return {"text/plain": "\n".join(" | ".join(map(str, row)) for row in rows),
                    "text/html": "<table>" + "".join(f"<tr>{c}</tr>" for c in cells) + "</table>"}

    def complete(self, code, cursor_pos):
        word = self.completion_word.search(code[:cursor_pos]).group()
        tables = [r[0] for r in self.db.execute("SELECT name FROM sqlite_master")]
        return [w for w in self.keywords + tables if w.lower().startswith(word.lower())]

    def is_complete(self, code):
        return "complete" if sqlite3.complete_statement(code) else ("incomplete", "")

    def interrupt(self):  # the stop button: called at once, even while a query runs
        self.db.interrupt()


if __name__ == "__main__":
    launch(SQLiteKernel)
