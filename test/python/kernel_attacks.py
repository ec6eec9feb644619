"""Attacks on the tfjs-estimator kernel under a real jupyter_client (issue 18, items 8-13): one
scenario per argument; prints RESULT with what it measured and exits non-zero on failure.
Everything talks to 127.0.0.1 only and is bounded in count and time."""
import json
import os
import subprocess
import sys
import tempfile
import time

import zmq
from jupyter_client.manager import KernelManager

from kernel_behaviour import run, shell_reply, stream_text, rss_of


def start(env=None):
    """A kernel whose own log (stderr) is kept in a file; returns (km, kc, log path)."""
    log_path = os.path.join(tempfile.mkdtemp(prefix="tfe-attack-log-"), "kernel.log")
    log = open(log_path, "wb")
    km = KernelManager(kernel_name="tfjs-estimator")
    kwargs = {"stdout": log, "stderr": subprocess.STDOUT}
    if env:
        kwargs["env"] = {**os.environ, **env}
    km.start_kernel(**kwargs)
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    return km, kc, log_path


def stop(km, kc):
    kc.stop_channels()
    km.shutdown_kernel(now=True)


def kernel_log(path):
    with open(path, "rb") as f:
        return f.read().decode("utf8", "replace")


def drain_iopub(kc, seconds):
    """Every iopub message that arrives within `seconds`."""
    out = []
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            out.append(kc.get_iopub_msg(timeout=max(0.05, deadline - time.time())))
        except Exception:
            break
    return out


def by_parent(msgs, msg_id):
    return [m for m in msgs if m["parent_header"].get("msg_id") == msg_id]


def scenario_replay():
    """Item 8: one signed message sent three times runs once; the copies are dropped."""
    km, kc, log_path = start()
    try:
        marker = os.path.join(tempfile.mkdtemp(), "runs")
        msg = kc.session.msg("execute_request", {"code": "require('fs').appendFileSync(%s, 'x')" % json.dumps(marker), "silent": False,
                                                 "store_history": True, "user_expressions": {}, "allow_stdin": False, "stop_on_error": True})
        parts = kc.session.serialize(msg)
        for _ in range(3):
            kc.shell_channel.socket.send_multipart(parts)
        content, out = run(kc, "console.log('after', 1 + 1)")
        assert "after 2" in stream_text(out)
        time.sleep(0.5)
        with open(marker) as f:
            runs = len(f.read())
        assert runs == 1, "the replayed message ran %d times" % runs
        # The same interrupt_request twice on control (the kernel idle): answered once.
        intr = kc.session.serialize(kc.session.msg("interrupt_request", {}))
        for _ in range(2):
            kc.control_channel.socket.send_multipart(intr)
        replies = []
        while True:
            try:
                replies.append(kc.get_control_msg(timeout=1))
            except Exception:
                break
        interrupt_replies = [r for r in replies if r["msg_type"] == "interrupt_reply"]
        assert len(interrupt_replies) == 1, interrupt_replies
        content, out = run(kc, "console.log('still', 2 + 2)")
        assert "still 4" in stream_text(out)
        text = kernel_log(log_path)
        assert "replayed message" in text, text[-2000:]
        return {"runs": runs, "interrupt_replies": len(interrupt_replies)}
    finally:
        stop(km, kc)


def scenario_prototype_names():
    """Item 9: msg_types named after Object.prototype members find no handler."""
    km, kc, log_path = start()
    try:
        names = ["constructor", "valueOf", "toString", "__proto__", "hasOwnProperty", "isPrototypeOf", "__defineGetter__"]
        ids = set()
        for name in names:
            for channel in (kc.shell_channel, kc.control_channel):
                msg = kc.session.msg(name, {})
                ids.add(msg["header"]["msg_id"])
                channel.socket.send_multipart(kc.session.serialize(msg))
        content, out = run(kc, "console.log('fine', 2 * 21)")
        assert "fine 42" in stream_text(out)
        handled = [m for m in drain_iopub(kc, 1.0) if m["parent_header"].get("msg_id") in ids]
        assert not handled, "a prototype-named msg_type was handled: %s" % [m["parent_header"]["msg_type"] for m in handled]
        text = kernel_log(log_path)
        for name in names:
            assert "unknown message type '%s'" % name in text, (name, text[-3000:])
        return {"names": len(names), "handled": len(handled)}
    finally:
        stop(km, kc)


def signed(session, header, parent=b"{}", metadata=b"{}", content=b"{}"):
    parts = [header, parent, metadata, content]
    return [b"<IDS|MSG>", session.sign(parts)] + parts


def scenario_deep_header():
    """Item 10: a header nested 5,000 levels deep is dropped with a log line; nothing lands in
    the cell that ran before it or the one after it."""
    km, kc, log_path = start()
    try:
        content, out = run(kc, "console.log('cell one')")
        first_id = out[0]["parent_header"]["msg_id"]
        deep = b"[" * 5000 + b"]" * 5000
        for msg_type, field in (("kernel_info_request", "header"), ("execute_request", "parent"), ("execute_request", "metadata")):
            header = json.dumps({"msg_id": "deep-%s" % field, "session": kc.session.session, "username": "u", "date": "2026-01-01T00:00:00Z",
                                 "msg_type": msg_type, "version": "5.3"}).encode()
            nested = b'{"x": ' + deep + b"}"
            if field == "header":
                frames = signed(kc.session, header[:-1] + b', "x": ' + deep + b"}")
            elif field == "parent":
                frames = signed(kc.session, header, parent=nested, content=b'{"code": "1"}')
            else:
                frames = signed(kc.session, header, metadata=nested, content=b'{"code": "1"}')
            # One at a time: a failure of each must show on its own (queued, the next would catch it).
            kc.shell_channel.socket.send_multipart(frames)
            late = drain_iopub(kc, 1.5)
            errors = [m for m in late if m["msg_type"] == "error"]
            assert not errors, "%s nested deep: an error was published into another message: %s" % (field, errors)
        content, out = run(kc, "console.log('cell two')")
        assert [m for m in out if m["msg_type"] == "error"] == [], out
        assert "cell two" in stream_text(out)
        text = kernel_log(log_path)
        assert "nested more than" in text, text[-2000:]
        return {"first_cell": first_id[:8], "errors": len(errors)}
    finally:
        stop(km, kc)


def scenario_big_frame():
    """Item 11: a 100 MB frame is refused before it is read (RSS stays put), and the limit is
    configurable: with TFJS_ESTIMATOR_MAX_MESSAGE_BYTES=1048576 a 2 MB cell is refused, a small one runs."""
    km, kc, log_path = start()
    try:
        run(kc, "1 + 1")
        time.sleep(1)
        before = rss_of(km)
        kc.shell_channel.socket.send_multipart([b"<IDS|MSG>", b"0" * 64, b"{}", b"{}", b"{}", b"x" * (100 * 2 ** 20)])
        time.sleep(3)
        after = rss_of(km)
        content, out = run(kc, "console.log('alive', 3 * 3)")
        assert "alive 9" in stream_text(out)
        grew = after - before
        assert grew < 20, "RSS grew %.1f MB after a 100 MB frame" % grew
    finally:
        stop(km, kc)
    km, kc, log_path = start({"TFJS_ESTIMATOR_MAX_MESSAGE_BYTES": str(2 ** 20)})
    try:
        msg_id = kc.execute("const big = %s; console.log('ran the big cell')" % json.dumps("y" * (2 * 2 ** 20)))
        try:
            reply = shell_reply(kc, msg_id, 5)
            raise AssertionError("a 2 MB cell over a 1 MB limit was answered: %s" % reply["content"]["status"])
        except AssertionError:
            raise
        except Exception:
            pass
        content, out = run(kc, "const small = %s; console.log('small', small.length)" % json.dumps("z" * 500000))
        assert "small 500000" in stream_text(out)
        return {"rss_growth_mb": round(grew, 1)}
    finally:
        stop(km, kc)


def scenario_async_output():
    """Item 12: a Promise that is a cell's value is awaited and its result shown; output, displays
    and errors of a finished cell's leftover async work land in that cell, not in the next one."""
    km, kc, log_path = start()
    try:
        content, out = run(kc, "async function later(): Promise<number> {\n  await new Promise((r) => setTimeout(r, 300));\n"
                               "  display.html('<b>late chart</b>');\n  return 42;\n}\nlater()")
        results = [m["content"]["data"]["text/plain"] for m in out if m["msg_type"] == "execute_result"]
        assert results == ["42"], results
        assert any(m["msg_type"] == "display_data" and "late chart" in m["content"]["data"].get("text/html", "") for m in out), out
        b_id = kc.execute("setTimeout(() => { console.log('from B timer'); display.markdown('B late'); }, 300);\n"
                          "setTimeout(() => { throw new Error('B late throw'); }, 400);\n"
                          "setTimeout(() => Promise.reject(new RangeError('B late rejection')), 500);\n'B done'")
        shell_reply(kc, b_id)
        c_id = kc.execute("await new Promise((r) => setTimeout(r, 1200));\n'C done'")
        shell_reply(kc, c_id, 30)
        msgs = drain_iopub(kc, 1.0)
        in_b, in_c = by_parent(msgs, b_id), by_parent(msgs, c_id)
        assert "from B timer" in stream_text(in_b), in_b
        assert any(m["msg_type"] == "display_data" for m in in_b), in_b
        b_errors = [m["content"]["evalue"] for m in in_b if m["msg_type"] == "error"]
        assert "B late throw" in b_errors and "B late rejection" in b_errors, b_errors
        leaked = [m for m in in_c if m["msg_type"] in ("stream", "display_data", "error")]
        assert not leaked, "B's late output landed in C: %s" % leaked
        return {"b_messages": len(in_b), "c_leaks": len(leaked)}
    finally:
        stop(km, kc)


def scenario_control_thread():
    """Item 13: during a synchronous loop the heartbeat answers at once and interrupt_request on
    control is answered and stops the loop; the message path also stops an awaiting cell."""
    km, kc, log_path = start()
    try:
        ctx = zmq.Context.instance()
        hb = ctx.socket(zmq.REQ)
        hb.linger = 0
        hb.connect("tcp://%s:%d" % (km.ip, km.hb_port))
        loop_id = kc.execute("const t0 = Date.now(); let n = 0;\nwhile (Date.now() - t0 < 4000) { n++; }\nn")
        time.sleep(0.8)
        pings = []
        for i in range(3):
            t = time.time()
            hb.send(b"ping %d" % i)
            if not hb.poll(3000):
                raise AssertionError("heartbeat unanswered for 3 s while a cell loops")
            assert hb.recv() == b"ping %d" % i
            pings.append(time.time() - t)
            time.sleep(0.3)
        shell_reply(kc, loop_id, 30)
        assert max(pings) < 0.5, "heartbeat took %s s" % pings
        hb.close()

        busy_id = kc.execute("let k = 0; while (true) { k++; }")
        time.sleep(1.5)
        t = time.time()
        msg = kc.session.msg("interrupt_request", {})
        kc.control_channel.send(msg)
        reply = kc.get_control_msg(timeout=5)
        reply_s = time.time() - t
        assert reply["msg_type"] == "interrupt_reply" and reply["parent_header"]["msg_id"] == msg["header"]["msg_id"], reply
        busy = shell_reply(kc, busy_id, 10)
        stop_s = time.time() - t
        assert busy["content"]["status"] == "error" and busy["content"]["ename"] == "KeyboardInterrupt", busy["content"]
        assert reply_s < 0.5 and stop_s < 2, (reply_s, stop_s)

        wait_id = kc.execute("await new Promise((r) => setTimeout(r, 60000));")
        time.sleep(1)
        t = time.time()
        kc.control_channel.send(kc.session.msg("interrupt_request", {}))
        kc.get_control_msg(timeout=5)
        waited = shell_reply(kc, wait_id, 10)
        assert waited["content"]["ename"] == "KeyboardInterrupt", waited["content"]
        await_stop_s = time.time() - t
        content, out = run(kc, "console.log('alive', 5 + 5)")
        assert "alive 10" in stream_text(out)
        return {"heartbeat_max_s": round(max(pings), 3), "interrupt_reply_s": round(reply_s, 3), "loop_stopped_s": round(stop_s, 3), "await_stopped_s": round(await_stop_s, 2)}
    finally:
        stop(km, kc)


def scenario_shutdown_busy():
    """shutdown_request on control while a cell runs a synchronous loop, as a frontend that speaks
    only the protocol sends it (no signal from a kernel manager): the kernel stops the loop,
    replies and exits cleanly (code 0) within seconds."""
    km, kc, log_path = start()
    try:
        run(kc, "1 + 1")
        kc.execute("let spin = 0; while (true) { spin++; }")
        time.sleep(1.5)
        proc = km.provisioner.process
        t = time.time()
        msg = kc.session.msg("shutdown_request", {"restart": False})
        kc.control_channel.send(msg)
        reply = kc.get_control_msg(timeout=10)
        reply_s = time.time() - t
        assert reply["msg_type"] == "shutdown_reply" and reply["parent_header"]["msg_id"] == msg["header"]["msg_id"], reply
        code = proc.wait(timeout=10)
        exit_s = time.time() - t
        assert code == 0, "the kernel exited with %s: %s" % (code, kernel_log(log_path)[-2000:])
        assert reply_s < 3 and exit_s < 4, (reply_s, exit_s)
        return {"shutdown_s": round(exit_s, 2), "reply_s": round(reply_s, 2), "exit_code": code}
    finally:
        kc.stop_channels()
        if km.has_kernel:
            km.shutdown_kernel(now=True)


if __name__ == "__main__":
    name = sys.argv[1]
    result = globals()["scenario_" + name]()
    print("RESULT " + json.dumps(result))
