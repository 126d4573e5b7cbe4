"""A calculator with variables, written only against the public `pykernel.wrapper` API.

Its `execute` is async (`await self.input(...)`, waits through asyncio), its other hooks a mix of sync
and async, so the tests reach both paths. One statement per line:

    x = 2 * (3 + 4)          assign                  x / 3         the last value is the result
    print x, x + 1           to stdout               warn text     the rest of the line to stderr
    say text                 the rest of the line to stdout
    name = input "Name? "    ask the frontend        pw = secret "Password? "   (hidden)
    show x as ID             display (HTML + text)   update ID x   replace what ID shows
    clear                    clear the output        sleep 0.5     wait (interruptible)
    spin                     compute forever, never awaiting (interruptible too)
    block KEY                wait until another shell runs `release KEY`
    notify x                 open a comm to the frontend's target `calc.notify`
    fail message             a CalcError
"""

from __future__ import annotations

import ast
import asyncio
import math
import operator
import re
import threading

from pykernel.wrapper import KernelError, WrapperKernel, launch

FUNCTIONS = {"abs": abs, "min": min, "max": max, "round": round, "sqrt": math.sqrt}
KEYWORDS = ("print", "say", "warn", "input", "secret", "show", "update", "clear", "sleep",
            "block", "release", "notify", "spin", "fail")
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
           ast.Pow: operator.pow}
_ASSIGN = re.compile(r"^([A-Za-z_]\w*)\s*=(?!=)\s*(.*)$")
_ASK = re.compile(r'^(input|secret)\s+"([^"]*)"$')


class Gates:
    """`block KEY` waits on a future of the blocking thread's loop; `release KEY` (from any thread)
    resolves it, or leaves the key open for a later `block`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Future]] = {}
        self._open: set[str] = set()

    async def block(self, key: str) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            if key in self._open:
                self._open.discard(key)
                return
            future = loop.create_future()
            self._waiting[key] = (loop, future)
        try:
            await future
        finally:
            with self._lock:
                self._waiting.pop(key, None)

    def release(self, key: str) -> None:
        with self._lock:
            if key in self._waiting:
                loop, future = self._waiting.pop(key)
                loop.call_soon_threadsafe(lambda: future.done() or future.set_result(None))
            else:
                self._open.add(key)


class CalcKernel(WrapperKernel):
    implementation = "calc"
    implementation_version = "1.0"
    kernel_name = "calc"
    display_name = "Calculator"
    language_info = {"name": "calc", "version": "1.0", "mimetype": "text/x-calc",
                     "file_extension": ".calc"}
    banner = "A calculator with variables"
    help_links = [{"text": "Calc", "url": "https://example.org/calc"}]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.variables: dict[str, float] = {}
        self.gates = Gates()
        self.register_comm_target("calc.eval", self._eval_comm)

    def _eval_comm(self, comm, open_msg: dict) -> None:
        """A frontend's comm to `calc.eval`: each message's `expr` is answered with its value."""
        def answer(msg: dict) -> None:
            comm.send({"value": _show(self.evaluate(msg["content"]["data"]["expr"]))})
        comm.on_msg(answer)
        comm.send({"ready": open_msg["content"]["data"].get("hello", "")})

    # ---- evaluation ------------------------------------------------------------------------------

    def evaluate(self, text: str):
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as e:
            raise KernelError("SyntaxError", f"cannot read {text.strip()!r}: {e.msg}") from None
        return self._value(tree.body)

    def _value(self, node):
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return node.value
        if isinstance(node, ast.Name):
            if node.id not in self.variables:
                raise KernelError("NameError", f"{node.id} is not defined")
            return self.variables[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return _BINARY[type(node.op)](self._value(node.left), self._value(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            value = self._value(node.operand)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                node.func.id in FUNCTIONS and not node.keywords:
            return FUNCTIONS[node.func.id](*(self._value(a) for a in node.args))
        raise KernelError("SyntaxError", f"not a calculation: {ast.unparse(node)}")

    # ---- the hooks -------------------------------------------------------------------------------

    async def execute(self, code: str):
        result = None
        for line in code.splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                result = await self.statement(line)
        return None if result is None else _show(result)

    async def statement(self, line: str):
        word, _, rest = line.partition(" ")
        if word == "print":
            self.print(*(_show(self.evaluate(p)) for p in rest.split(",")))
        elif word == "say":
            self.stdout(rest + "\n")
        elif word == "warn":
            self.stderr(rest + "\n")
        elif word == "show":
            expr, _, name = rest.partition(" as ")
            self.display(self._bundle(self.evaluate(expr)), display_id=name.strip() or None)
        elif word == "update":
            name, _, expr = rest.partition(" ")
            self.update_display(self._bundle(self.evaluate(expr)), name)
        elif word == "clear":
            self.clear_output(wait=rest == "wait")
        elif word == "sleep":
            await asyncio.sleep(float(self.evaluate(rest)))
        elif word == "spin":  # computes without awaiting, until interrupted
            while True:
                pass
        elif word == "block":
            await self.gates.block(rest.strip())
        elif word == "release":
            self.gates.release(rest.strip())
        elif word == "notify":
            self.open_comm("calc.notify", {"value": _show(self.evaluate(rest))})
        elif word == "fail":
            raise KernelError("CalcError", rest, [f"CalcError: {rest}", "  (raised by `fail`)"])
        elif match := _ASSIGN.match(line):
            name, expr = match.groups()
            asked = _ASK.match(expr.strip())
            if asked:
                answer = await self.input(asked.group(2), password=asked.group(1) == "secret")
                self.variables[name] = self.evaluate(answer)
            else:
                self.variables[name] = self.evaluate(expr)
        else:
            return self.evaluate(line)
        return None

    @staticmethod
    def _bundle(value) -> dict:
        return {"text/plain": _show(value), "text/html": f"<b>{_show(value)}</b>"}

    async def complete(self, code: str, cursor_pos: int):
        word = re.search(r"\w*$", code[:cursor_pos]).group()
        names = sorted({*self.variables, *FUNCTIONS, *KEYWORDS})
        return [n for n in names if n.startswith(word)]

    def inspect(self, code: str, cursor_pos: int, detail_level: int):
        start = re.search(r"\w*$", code[:cursor_pos]).start()
        name = re.match(r"\w*", code[start:]).group()
        if name in self.variables:
            text = f"{name} = {_show(self.variables[name])}"
            return {"text/plain": text, "text/markdown": f"`{text}`"} if detail_level else text
        if name in FUNCTIONS:
            return f"{name}(...): a function"
        return None

    def is_complete(self, code: str):
        if re.search(r"[^\w\s+\-*/%().,=\"#<>]", code):
            return "invalid"
        depth = 0
        for char in code:
            depth += {"(": 1, ")": -1}.get(char, 0)
            if depth < 0:
                return "invalid"
        if depth or re.search(r"[-+*/%=,(]\s*$", code):
            return "incomplete", "    "
        return "complete"


def _show(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


if __name__ == "__main__":
    launch(CalcKernel)
