/**
 * Throw-away certificates for the TLS tests, made with the `openssl` command at test time: a
 * cluster CA, an unrelated CA, and server certificates for 127.0.0.1/localhost signed by each,
 * one for the wrong name, and a self-signed one (for pinning). EC P-256 keys, valid two days.
 * @module
 */
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Absolute paths of a certificate and its key, and the certificate's SHA-256 fingerprint. */
export interface TestCert {
  cert: string;
  key: string;
  /** As `openssl x509 -noout -fingerprint -sha256` prints it: upper-case hex pairs with colons. */
  fingerprint: string;
}

export interface TestPki {
  dir: string;
  /** The cluster CA's certificate file. */
  ca: string;
  /** A CA that signed nothing the cluster uses. */
  otherCa: string;
  /** For 127.0.0.1 and localhost, signed by `ca`. */
  server: TestCert;
  /** A second one like `server` (a second node of the cluster). */
  server2: TestCert;
  /** For 127.0.0.1 and localhost, signed by `otherCa`. */
  otherServer: TestCert;
  /** For wrong.example only, signed by `ca`. */
  wrongName: TestCert;
  /** For 127.0.0.1, self-signed (no CA): trusted only by its pinned fingerprint. */
  selfSigned: TestCert;
}

function openssl(args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("openssl", args, { cwd }, (error, stdout, stderr) => {
      if (error) reject(new Error(`openssl ${args.join(" ")} failed: ${stderr || error.message}`));
      else resolve(stdout);
    });
  });
}

const keyArgs = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

async function makeCa(dir: string, name: string, subject: string): Promise<void> {
  writeFileSync(join(dir, `${name}.cnf`), "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n");
  await openssl(["req", "-new", ...keyArgs, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${subject}`], dir);
  await openssl(["x509", "-req", "-in", `${name}.csr`, "-signkey", `${name}.key`, "-days", "2", "-extfile", `${name}.cnf`, "-out", `${name}.pem`], dir);
}

async function makeServer(dir: string, name: string, names: string, signer: string | null): Promise<TestCert> {
  writeFileSync(
    join(dir, `${name}.cnf`),
    `subjectAltName=${names}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n`,
  );
  await openssl(["req", "-new", ...keyArgs, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`], dir);
  const sign = signer === null
    ? ["-signkey", `${name}.key`]
    : ["-CA", `${signer}.pem`, "-CAkey", `${signer}.key`, "-set_serial", String(Math.floor(Math.random() * 2 ** 31))];
  await openssl(["x509", "-req", "-in", `${name}.csr`, ...sign, "-days", "2", "-extfile", `${name}.cnf`, "-out", `${name}.pem`], dir);
  const printed = await openssl(["x509", "-in", `${name}.pem`, "-noout", "-fingerprint", "-sha256"], dir);
  const fingerprint = /=([0-9A-F:]+)/i.exec(printed)?.[1]?.toUpperCase();
  if (!fingerprint) throw new Error(`Cannot read the fingerprint of ${name}.pem from "${printed}"`);
  return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`), fingerprint };
}

/**
 * Makes every certificate of {@link TestPki} in `dir` (created if missing).
 *
 * @example
 * ```ts
 * const pki = await makeTestPki(join(tmp, "certs"));
 * const tls = { cert: readFileSync(pki.server.cert, "utf8"), key: readFileSync(pki.server.key, "utf8") };
 * ```
 */
export async function makeTestPki(dir: string): Promise<TestPki> {
  mkdirSync(dir, { recursive: true });
  await Promise.all([makeCa(dir, "ca", "Ferry test CA"), makeCa(dir, "other-ca", "Unrelated test CA")]);
  const local = "IP:127.0.0.1,DNS:localhost";
  const [server, server2, otherServer, wrongName, selfSigned] = await Promise.all([
    makeServer(dir, "server", local, "ca"),
    makeServer(dir, "server2", local, "ca"),
    makeServer(dir, "other-server", local, "other-ca"),
    makeServer(dir, "wrong-name", "DNS:wrong.example", "ca"),
    makeServer(dir, "self-signed", local, null),
  ]);
  return { dir, ca: join(dir, "ca.pem"), otherCa: join(dir, "other-ca.pem"), server, server2, otherServer, wrongName, selfSigned };
}

/** The PEM texts a server is given. */
export function pemOf(cert: TestCert): { cert: string; key: string } {
  return { cert: readFileSync(cert.cert, "utf8"), key: readFileSync(cert.key, "utf8") };
}
