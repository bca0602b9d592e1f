import { test } from "uvu";
import * as assert from "uvu/assert";
import { hostname } from "node:os";
import { isLocalUrl } from "../../cli/daemon-command.ts";

test("a node URL on loopback, in any spelling, is local", () => {
  for (const url of ["http://127.0.0.1:7101", "http://127.4.5.6:7101", "http://localhost:7101", "http://LOCALHOST.:7101", "http://alpha.localhost:7101", "http://[::1]:7101", "http://[::ffff:127.0.0.1]:7101", "https://[0:0:0:0:0:0:0:1]:7101"]) {
    assert.ok(isLocalUrl(url), url);
  }
});

test("this machine's host name is local; another address and a broken URL are not", () => {
  assert.ok(isLocalUrl(`http://${hostname()}:7101`));
  assert.not.ok(isLocalUrl("http://192.0.2.7:7101"), "a documentation address no machine has");
  assert.not.ok(isLocalUrl("http://[2001:db8::7]:7101"));
  assert.not.ok(isLocalUrl("not a url"));
});

test.run();
