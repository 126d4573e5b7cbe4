"""The harness itself, proven with the echo language (no IPython, no bash): if these fail, the
problem is the server, the browser or the kernel core, not a language."""

from .lab import expect


def test_echo_cell_output(open_notebook):
    nb = open_notebook("echo")
    cell = nb.run("hello from the browser")
    expect(cell.output).to_contain_text("hello from the browser")
    expect(cell.prompt).to_have_text("[1]:")


def test_echo_stdin_box(open_notebook):
    nb = open_notebook("echo")
    cell = nb.run("input What is your name?")
    expect(cell.output).to_contain_text("What is your name?")
    nb.stdin.fill("Ada")
    nb.stdin.press("Enter")
    expect(cell.output).to_contain_text("Ada")
    cell.done()
