// SPDX-License-Identifier: LGPL-2.1-or-later
// Ctrl-C and GJS: GJS installs no SIGINT handler, so a program blocked in
// listen() or read_line() without limit ends at SIGINT, by the signal's
// default action, within a second.
// Arguments: the gjs program and sigint-child.js.
import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import System from 'system';

import {check, finish} from './testing.js';

const [gjs, child] = System.programArgs;
const SIGINT = 2;

function interrupt(call) {
    // SIGINT at its default action even when this test runs with it
    // ignored (as a shell's background job does).
    const proc = Gio.Subprocess.new(['env', '--default-signal=INT', gjs, '-m', child, call],
        Gio.SubprocessFlags.STDOUT_PIPE);
    const out = new Gio.DataInputStream({base_stream: proc.get_stdout_pipe()});
    const [ready] = out.read_line_utf8(null);
    check(ready === 'ready', `${call}: the child is ready (${ready})`);
    GLib.usleep(300 * 1000);   // time to enter the call; the result holds either way

    const loop = new GLib.MainLoop(null, false);
    let ended = false;
    const signalled = GLib.get_monotonic_time();
    proc.send_signal(SIGINT);
    proc.wait_async(null, () => {
        ended = true;
        loop.quit();
    });
    const timer = GLib.timeout_add(GLib.PRIORITY_DEFAULT, 1000, () => {
        loop.quit();
        return GLib.SOURCE_REMOVE;
    });
    loop.run();
    const ms = (GLib.get_monotonic_time() - signalled) / 1000;
    if (ended) {
        GLib.source_remove(timer);
    } else {
        proc.force_exit();   // the child we started, by its pid
        proc.wait(null);
    }
    check(ended && ms < 1000, `${call}: ended ${ms.toFixed(0)} ms after SIGINT`);
    check(proc.get_if_signaled() && proc.get_term_sig() === SIGINT, `${call}: ended by SIGINT`);
}

interrupt('listen');
interrupt('read_line');
finish();
