"""The MicroPython test harness must turn every kind of broken test into a failed pytest item."""

import textwrap


def run(pytester, src, *args):
    pytester.makepyfile(mpt_sample=textwrap.dedent(src))
    return pytester.runpytest("-p", "mpharness", "-p", "no:cacheprovider", *args)


def test_pass_and_async(pytester):
    r = run(
        pytester,
        """
        import asyncio
        def test_sync():
            assert 1 + 1 == 2
        async def test_async():
            await asyncio.sleep_ms(1)
        """,
    )
    r.assert_outcomes(passed=2)


def test_failing_assert_shows_traceback(pytester):
    r = run(pytester, "def test_bad():\n    assert 1 == 2, 'one is not two'\n")
    r.assert_outcomes(failed=1)
    r.stdout.fnmatch_lines(["*AssertionError: one is not two*"])


def test_exception_in_async(pytester):
    r = run(pytester, "async def test_boom():\n    raise ValueError('kaput')\n")
    r.assert_outcomes(failed=1)
    r.stdout.fnmatch_lines(["*ValueError: kaput*"])


def test_hang_times_out(pytester):
    r = run(pytester, "TIMEOUT = 2\ndef test_hang():\n    while True:\n        pass\n")
    r.assert_outcomes(failed=1)
    r.stdout.fnmatch_lines(["*timed out after 2s*"])


def test_memory_error_under_cap(pytester):
    r = run(
        pytester,
        """
        def test_big():  # heap: 16K
            b = bytearray(32 * 1024)
            assert b
        def test_small():  # heap: 16K
            b = bytearray(1024)
            assert len(b) == 1024
        """,
    )
    r.assert_outcomes(passed=1, failed=1)
    r.stdout.fnmatch_lines(["*MemoryError*"])


def test_sys_exit_zero_is_not_a_pass(pytester):
    r = run(pytester, "import sys\ndef test_exit():\n    sys.exit(0)\n")
    r.assert_outcomes(failed=1)


def test_each_function_is_an_item(pytester):
    r = run(pytester, "def test_a():\n    pass\ndef test_b():\n    assert False\ndef helper():\n    pass\n")
    r.assert_outcomes(passed=1, failed=1)


def test_file_named_on_command_line_runs_once_under_micropython(pytester):
    pytester.makepyfile(mpt_named="import micropython\ndef test_one():\n    assert micropython.const(3) == 3\n")
    r = pytester.runpytest("-p", "mpharness", "-p", "no:cacheprovider", "mpt_named.py")
    r.assert_outcomes(passed=1)
