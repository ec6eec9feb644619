"""What a new user sees of the tfjs-estimator kernel under a real jupyter_client: completion,
type errors and error excerpts. One scenario per argument; prints RESULT <json>, exits non-zero
on failure."""
import json
import sys

from kernel_behaviour import run, shell_reply, start, stream_text


def complete(kc, code, pos=None):
    msg_id = kc.complete(code, len(code) if pos is None else pos)
    return shell_reply(kc, msg_id)["content"]["matches"]


def scenario_completion():
    km, kc = start()
    try:
        matches = complete(kc, "tf.")
        assert len(matches) > 100, matches[:20]
        kernel_names = [m for m in ("Abs", "_FusedMatMul", "Conv2DBackpropFilter", "FusedBatchNorm", "BatchMatMul") if m in matches]
        assert not kernel_names, "kernel-name constants offered after tf.: %s" % kernel_names
        assert not [m for m in matches if m.startswith("_")], [m for m in matches if m.startswith("_")][:10]
        for wanted in ("add", "zeros", "Tensor", "tensor2d", "data", "losses", "train"):
            assert wanted in matches, "%s missing after tf.: %s" % (wanted, matches[:30])
        assert complete(kc, "tf.Ab") == [], complete(kc, "tf.Ab")
        assert "abs" in complete(kc, "tf.ab")
        run(kc, "const est = new Estimator((x: tf.Tensor, y: tf.Tensor | undefined, mode: string) => new EstimatorSpec({ mode: mode as any, predictions: x }));")
        matches = complete(kc, "est.")
        assert matches and matches[0] != "_toMimeBundle", matches[:10]
        assert not [m for m in matches if m.startswith("_")], matches
        for wanted in ("train", "evaluate", "predict", "latestCheckpoint", "modelDir"):
            assert wanted in matches, "%s missing after est.: %s" % (wanted, matches)
        # Typing the underscore asks for them.
        assert "_toMimeBundle" in complete(kc, "est._"), complete(kc, "est._")
        # Inside a longer line, at the cursor.
        code = "const n = est.lat + 1;"
        assert complete(kc, code, code.index("lat") + 3) == ["latestCheckpoint"], complete(kc, code, code.index("lat") + 3)
        return {"after_tf": len(complete(kc, "tf.")), "after_est": len(matches)}
    finally:
        km.shutdown_kernel(now=True)


def type_error(kc, code):
    content, out = run(kc, code, allow_error=True)
    assert content["status"] == "error" and content["ename"] == "TypeScriptError", content
    text = content["evalue"] + "\n" + "\n".join(content["traceback"])
    assert "__m" not in text, text
    return text


def scenario_type_hints():
    km, kc = start()
    try:
        checked = 0
        for name, global_hint in (("summary", "summary.scalar("), ("estimator", "new Estimator(modelFn, modelDir)"), ("logging", "logging.setVerbosity(")):
            text = type_error(kc, "tf.%s" % name)
            assert "Property '%s' does not exist on type 'typeof tf'" % name in text, text
            assert "hint:" in text and global_hint in text, text
            checked += 1
        # The globals the hints name exist: logging is preloaded, and INFO goes to stdout.
        content, out = run(kc, "logging.setVerbosity(logging.INFO); logging.info('hello'); logging.warn('careful'); logging.getVerbosity()")
        assert "INFO:tfjs-estimator:hello" in stream_text(out, "stdout"), out
        assert "WARNING:tfjs-estimator:careful" in stream_text(out, "stderr"), out
        text = type_error(kc, "const m = tf.metrics.mean(tf.zeros([2]));")
        assert "does not exist on type 'typeof tf.metrics'" in text and "preloaded global `metrics`" in text, text
        run(kc, "const x = tf.zeros([1, 28, 28, 1]);")
        text = type_error(kc, "const y = tf.layers.conv2d(x, 32, 3);")
        assert "Expected 1 arguments, but got 3" in text, text
        assert "TF1-style functional layers are the preloaded global `layers`: layers.conv2d(x, 32, 3)" in text, text
        # The global the hint names takes those arguments.
        content, out = run(kc, "const f = (x: tf.Tensor4D) => layers.conv2d(x, 32, 3);")
        # An unrelated type error gets no hint.
        text = type_error(kc, "const bad: string = tf.zeros([2]);")
        assert "hint:" not in text and "Tensor<Rank>" in text, text
        return {"checked": checked + 3}
    finally:
        km.shutdown_kernel(now=True)


def runtime_error(kc, code):
    content, out = run(kc, code, allow_error=True)
    assert content["status"] == "error", content
    errors = [m["content"] for m in out if m["msg_type"] == "error"]
    assert len(errors) == 1 and errors[0]["traceback"] == content["traceback"], errors
    tb = "\n".join(content["traceback"])
    for internal in ("exports.", "tsLastExpr", "node:vm", "node:internal", "runInThisContext", "/dist/src/"):
        assert internal not in tb, "%s shown in:\n%s" % (internal, tb)
    return content, tb


def scenario_error_excerpts():
    km, kc = start()
    try:
        # A plain TypeError in the last expression: the user's TypeScript, not the compiled line.
        content, tb = runtime_error(kc, "const cfg: any = undefined;\ncfg.learningRate")
        assert content["ename"] == "TypeError", content
        lines = content["traceback"]
        assert "<cell 1>:2:5" in lines[1], lines
        assert lines[2].strip() == "cfg.learningRate", lines
        assert "frames hidden" in lines[-1] and "Node" in lines[-1], lines
        # Inside a function: each of the user's frames with its own line, innermost first.
        run(kc, "function lr(c: { opt?: { lr: number } }): number {\n  return c.opt!.lr * 2;\n}")
        content, tb = runtime_error(kc, "const rates: number[] = [];\nrates.push(lr({}));")
        lines = content["traceback"]
        assert "lr (<cell 2>:2:17)" in lines[1] and lines[2].strip() == "return c.opt!.lr * 2;", lines
        assert "<cell 3>:2:" in lines[4] and lines[5].strip() == "rates.push(lr({}));", lines
        # A runtime error inside modelFn: said once where it was raised, user frames first, the
        # library's frames folded into one line.
        run(kc, "function modelFn(x: tf.Tensor, y: tf.Tensor | undefined, mode: string) {\n"
                "  const h = layers.dense(x, 4);\n"
                "  const w = (params as any).width.toFixed();\n"
                "  return new EstimatorSpec({ mode: mode as any, loss: tf.mean(h) as tf.Scalar });\n"
                "}\n"
                "const params = {};\n"
                "const est = new Estimator(modelFn);")
        content, tb = runtime_error(kc, "await est.train(() => [[tf.ones([2, 3]), tf.ones([2, 1])]], { steps: 1 });")
        assert content["ename"] == "TypeError", content
        assert tb.count("(raised in modelFn, train mode, global step 0)") == 1, tb
        lines = content["traceback"]
        user = [i for i, l in enumerate(lines) if " at " in l]
        assert "modelFn (<cell 4>:3:" in lines[user[0]] and "(params as any).width.toFixed()" in lines[user[0] + 1], lines
        assert "<cell 5>:1:" in lines[user[1]], lines
        assert "frames hidden" in lines[-1] and "tfjs-estimator" in lines[-1], lines
        assert len(lines) <= 12, lines
        return {"traceback_lines": len(lines)}
    finally:
        km.shutdown_kernel(now=True)


def carriers(outputs):
    """For each chart displayed: does its HTML carry plotly.js?"""
    out = []
    for m in outputs:
        if m["msg_type"] in ("display_data", "execute_result"):
            html = m["content"]["data"].get("text/html", "")
            if "data-tfjs-plot=" in html:
                out.append("tfjs-estimator-plotly-library" in html)
    return out


def scenario_chart_carriers():
    """plotly.js travels with the first chart of every cell run, so a re-run (or deleted) cell
    never takes the library away from the other cells' charts in a saved notebook."""
    km, kc = start()
    try:
        cell = "display.plot({ y: [1, 2, 3] }); display.plot({ y: [3, 2, 1] });"
        content, out = run(kc, cell)
        assert carriers(out) == [True, False], carriers(out)
        content, out = run(kc, "display.plot({ y: [4, 5] });")
        assert carriers(out) == [True], carriers(out)
        content, out = run(kc, cell)  # the first cell re-run
        assert carriers(out) == [True, False], carriers(out)
        content, out = run(kc, "console.log('no chart')")
        assert carriers(out) == []
        return {"cells": 4}
    finally:
        km.shutdown_kernel(now=True)


if __name__ == "__main__":
    result = globals()["scenario_" + sys.argv[1]]()
    print("RESULT " + json.dumps(result))
