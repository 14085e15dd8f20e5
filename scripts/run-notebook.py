#!/usr/bin/python3
"""Execute a notebook headlessly with nbclient and the project's tslab kernel (stack notes "Jupyter + tslab").

    /usr/bin/python3 scripts/run-notebook.py notebooks/00-data.ipynb [--out PATH] [--timeout SEC] [--kernel NAME]
                                             [--env KEY=VALUE ...]

Why not `jupyter nbconvert --execute`: on a failing cell it writes no output file and shows an empty error, and with
--allow-errors it silently skips the cells after the error. This runner
  * runs in the project root with the kernel spec of THIS checkout (<root>/.jupyter-kernel, written by
    scripts/setup-jupyter.sh), so notebooks import './lib/...' and write results/<section>/ relative to the root;
  * ALWAYS writes the executed copy (default notebooks/executed/<name>.ipynb), also after a failure or a timeout;
  * on a failing cell prints its index, the head of its source, its stderr and the error name/value/traceback
    (ANSI colours stripped), and exits 1;
  * passes its environment through to the kernel (R2EC_PROFILE=smoke, R2EC_DATA_DIR, R2EC_DATASET, ...), plus any
    --env KEY=VALUE given here.
Exit codes: 0 all cells ran, 1 a cell failed / timed out / the kernel died, 2 usage or setup problem.
"""
import argparse
import os
import re
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
KERNEL_NAME = "r2ec-tslab"
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def strip_ansi(s):
    return ANSI.sub("", s or "")


def shown(path):
    return os.path.relpath(path, ROOT) if path.startswith(ROOT + os.sep) else path


def describe_tslab_stderr(stderr):
    """(name, value, traceback) from what tslab printed: a thrown error's `Name: message` line, or `L:C - message`."""
    thrown = re.findall(r"^((?:[A-Za-z_$][\w$]*)?(?:Error|Exception|Warning)): (.*)$", stderr, re.M)
    if thrown:
        return thrown[-1][0], thrown[-1][1], ""
    compile_errors = re.findall(r"^(\d+:\d+ - .*)$", stderr, re.M)
    if compile_errors:
        return "TypeScriptError", "; ".join(compile_errors[:5]), ""
    return "Error", "the kernel reported an error without a name (see stderr above)", ""


def fail_setup(msg):
    print(f"run-notebook: {msg}", file=sys.stderr)
    sys.exit(2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("notebook", help="path to the .ipynb (relative to the current directory or the project root)")
    ap.add_argument("--out", help="where to write the executed notebook (default notebooks/executed/<name>.ipynb)")
    ap.add_argument("--timeout", type=int, default=3600, help="per-cell timeout in seconds (default 3600)")
    ap.add_argument("--startup-timeout", type=int, default=120, help="kernel start timeout in seconds")
    ap.add_argument("--kernel", default=KERNEL_NAME, help=f"kernel name (default {KERNEL_NAME})")
    ap.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="extra environment for the kernel")
    args = ap.parse_args()

    try:
        import nbformat
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    except ImportError as e:
        fail_setup(f"{e}; run `npm run notebooks:setup` (needs Debian python3-nbclient; use /usr/bin/python3)")

    nb_path = args.notebook if os.path.isabs(args.notebook) else os.path.abspath(args.notebook)
    if not os.path.exists(nb_path) and os.path.exists(os.path.join(ROOT, args.notebook)):
        nb_path = os.path.join(ROOT, args.notebook)
    if not os.path.exists(nb_path):
        fail_setup(f"notebook not found: {args.notebook}")
    name = os.path.splitext(os.path.basename(nb_path))[0]
    out_path = os.path.abspath(args.out) if args.out else os.path.join(ROOT, "notebooks", "executed", name + ".ipynb")

    for kv in args.env:
        if "=" not in kv:
            fail_setup(f"--env expects KEY=VALUE, got '{kv}'")
        k, v = kv.split("=", 1)
        os.environ[k] = v

    # This checkout's kernel spec comes first, whatever the per-user registry says (another checkout may own it).
    local = os.path.join(ROOT, ".jupyter-kernel")
    os.environ["JUPYTER_PATH"] = os.pathsep.join([local] + [p for p in [os.environ.get("JUPYTER_PATH")] if p])
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(args.kernel)
    except NoSuchKernel:
        fail_setup(f"kernel '{args.kernel}' is not installed; run `npm run notebooks:setup`")
    if args.kernel == KERNEL_NAME and os.path.dirname(os.path.dirname(spec.argv[0])) != ROOT:
        fail_setup(f"kernel '{args.kernel}' points to {spec.argv[0]}, not this checkout; run `npm run notebooks:setup`")

    os.chdir(ROOT)
    nb = nbformat.read(nb_path, as_version=4)
    code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    state = {"current": None, "t0": time.time()}

    def on_cell_start(cell, cell_index, **_):
        state["current"] = cell_index
        state["cell_t0"] = time.time()

    client = NotebookClient(
        nb,
        kernel_name=args.kernel,
        timeout=args.timeout,
        startup_timeout=args.startup_timeout,
        allow_errors=False,
        record_timing=True,
        resources={"metadata": {"path": ROOT}},
        on_cell_start=on_cell_start,
    )

    rel = os.path.relpath(nb_path, ROOT) if nb_path.startswith(ROOT + os.sep) else nb_path
    print(f"run-notebook: {rel} ({len(code_cells)} code cells, kernel {args.kernel}, cwd {ROOT})", flush=True)
    status, problem = 0, None
    try:
        client.execute()
    except CellTimeoutError as e:
        status, problem = 1, ("timeout", f"cell exceeded --timeout {args.timeout} s", strip_ansi(str(e)))
    except DeadKernelError as e:
        status, problem = 1, ("DeadKernelError", "the kernel died", strip_ansi(str(e)))
    except CellExecutionError as e:
        status, problem = 1, (e.ename, strip_ansi(e.evalue), strip_ansi(e.traceback))
    except KeyboardInterrupt:
        status, problem = 130, ("KeyboardInterrupt", "interrupted", "")
    except Exception as e:  # kernel failed to start, etc.
        status, problem = 1, (type(e).__name__, strip_ansi(str(e)), "")
    finally:
        # execute() has already shut the kernel down; nbclient's atexit hook would only trip over a kernel that
        # never started (AssertionError noise after the real error).
        import atexit

        atexit.unregister(client._cleanup_kernel)
        os.makedirs(os.path.dirname(out_path), exist_ok=True)
        nbformat.write(nb, out_path)

    took = time.time() - state["t0"]
    if status == 0:
        print(f"run-notebook: ok, {len(code_cells)} cells in {took:.1f} s -> {shown(out_path)}")
        return 0

    idx = state["current"]
    ename, evalue, tb = problem
    stderr = ""
    print(f"\nrun-notebook: FAILED in {rel} after {took:.1f} s", file=sys.stderr)
    if idx is not None:
        cell = nb.cells[idx]
        number = code_cells.index(idx) + 1 if idx in code_cells else "?"
        head = "\n".join("    | " + l for l in cell.source.splitlines()[:8])
        print(f"  cell {idx} (code cell {number} of {len(code_cells)}), source head:\n{head}", file=sys.stderr)
        stderr = "".join(
            strip_ansi(o.get("text", ""))
            for o in cell.get("outputs", [])
            if o.get("output_type") == "stream" and o.get("name") == "stderr"
        ).rstrip()
        if stderr:
            print("  stderr:\n" + "\n".join("    " + l for l in stderr.splitlines()[-40:]), file=sys.stderr)
    # Prefer the kernel's own error output; nbclient's message only wraps it in a template.
    err_out = None
    if idx is not None:
        err_out = next((o for o in nb.cells[idx].get("outputs", []) if o.get("output_type") == "error"), None)
    if err_out is not None:
        ename, evalue = err_out.get("ename", ename), strip_ansi(err_out.get("evalue", evalue))
        tb = "\n".join(strip_ansi(l) for l in err_out.get("traceback", []))
    elif ename == "<Error>" and not evalue:
        # tslab reports both thrown errors and compile/type errors on stderr, with an empty error reply.
        ename, evalue, tb = describe_tslab_stderr(stderr if idx is not None else "")
    print(f"  error: {ename}: {evalue}", file=sys.stderr)
    if tb.strip():
        lines = tb.strip().splitlines()
        print("  traceback:\n" + "\n".join("    " + l for l in lines[-40:]), file=sys.stderr)
    print(f"  executed copy (with outputs up to the failure): {shown(out_path)}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
