// SPDX-License-Identifier: LGPL-2.1-or-later
// What the GJS tests share: a TAP line for each check, and an exit status
// that says whether any of them failed.
import GLib from 'gi://GLib';
import System from 'system';

let failures = 0;

export function check(cond, what) {
    if (cond) {
        print(`ok - ${what}`);
    } else {
        print(`not ok - ${what}`);
        failures++;
    }
}

// Checks that fn() throws the GLib.Error of this domain and code.
export function expectError(fn, domain, code, what) {
    try {
        fn();
        check(false, `${what}: no error`);
    } catch (e) {
        check(e instanceof GLib.Error && e.matches(domain, code), `${what} (${e.message})`);
    }
}

// Ends the test: exit status 0 when every check passed.
export function finish() {
    print(`1..${failures === 0 ? 'done' : 'failed'}`);
    System.exit(failures === 0 ? 0 : 1);
}
