"""The README's examples are true: its Python session runs as a doctest."""

import doctest
import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_python_session_is_correct():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    sessions = [b for b in blocks if b.lstrip().startswith(">>>")]
    assert sessions, "the README must show a Python session"
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for index, text in enumerate(sessions):
        runner.run(parser.get_doctest(text, {}, f"README[{index}]", str(README), 0))
    assert runner.summarize(verbose=False).failed == 0


def test_readme_commands_match_ci():
    text = README.read_text()
    ci = (README.parent / ".ci" / "run").read_text()
    test_command = re.search(r"## Run all the tests\s+```bash\n(.+?)\n```", text, flags=re.S).group(1).strip()
    assert test_command in ci
    assert "python -m nctheory.check sgd_momentum" in text
