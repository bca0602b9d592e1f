import { test } from "uvu";
import * as assert from "uvu/assert";
import { authorized } from "../../../daemon/api/auth.ts";

function request(authorization?: string): Request {
  return new Request("http://127.0.0.1:7101/v1/status", {
    method: "POST",
    headers: authorization === undefined ? {} : { authorization },
  });
}

test("authorized() accepts the right secret as a Bearer token", () => {
  assert.ok(authorized(request("Bearer change-me"), "change-me"));
});

test("authorized() accepts a secret with non-ASCII (Latin-1) characters and refuses a near miss", () => {
  assert.ok(authorized(request("Bearer clé-ß"), "clé-ß"));
  assert.not.ok(authorized(request("Bearer cle-ß"), "clé-ß"));
});

test("authorized() refuses a wrong secret, including one differing only in its last character", () => {
  assert.not.ok(authorized(request("Bearer wrong"), "change-me"));
  assert.not.ok(authorized(request("Bearer change-mf"), "change-me"));
  assert.not.ok(authorized(request("Bearer Change-me"), "change-me"));
});

test("authorized() refuses a prefix or an extension of the secret", () => {
  assert.not.ok(authorized(request("Bearer change"), "change-me"));
  assert.not.ok(authorized(request("Bearer change-me2"), "change-me"));
  assert.not.ok(authorized(request("Bearer "), "change-me"));
});

test("authorized() refuses a request without an authorization header", () => {
  assert.not.ok(authorized(request(), "change-me"));
});

test("authorized() refuses a token sent with another scheme or without one", () => {
  assert.not.ok(authorized(request("Basic change-me"), "change-me"));
  assert.not.ok(authorized(request("Token change-me"), "change-me"));
  assert.not.ok(authorized(request("change-me"), "change-me"));
  assert.not.ok(authorized(request("Bearerchange-me"), "change-me"));
});

test("authorized() refuses everything when the secret is empty", () => {
  assert.not.ok(authorized(request("Bearer "), ""));
  assert.not.ok(authorized(request(), ""));
  assert.not.ok(authorized(request("Bearer x"), ""));
});

test("authorized() compares every byte of the secret whatever the token (no early exit)", () => {
  // The comparison must not short-circuit: a token matching none of the secret and one matching
  // all but its last byte are both refused, and a longer token cannot read past the secret.
  const secret = "s".repeat(64);
  assert.not.ok(authorized(request(`Bearer ${"x".repeat(64)}`), secret));
  assert.not.ok(authorized(request(`Bearer ${"s".repeat(63)}x`), secret));
  assert.not.ok(authorized(request(`Bearer ${"s".repeat(128)}`), secret));
  assert.ok(authorized(request(`Bearer ${secret}`), secret));
});

test.run();
