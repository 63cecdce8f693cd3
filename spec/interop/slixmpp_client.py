#!/usr/bin/python3
"""Interop peer for spec/interop/slixmpp.spec.ts: a real XMPP client not written in JavaScript (slixmpp).

Logs in over STARTTLS (RFC 6120 §5) verifying the server's self-signed certificate against --ca, sends one
message, waits for a reply from the same account, pings the server (XEP-0199), asks for its disco#info
(XEP-0030) and software version (XEP-0092), then disconnects. Every step is printed as one JSON object per
line on standard output, for the test to read; slixmpp's own log goes to standard error.

Exit codes: 0 done, 1 authentication failed, 2 timed out, 3 other error.
"""

import argparse
import asyncio
import json
import logging
import sys

import slixmpp


def emit(event, **fields):
    print(json.dumps({"event": event, **fields}), flush=True)


class Peer(slixmpp.ClientXMPP):
    def __init__(self, args):
        super().__init__(args.jid, args.password)
        self.args = args
        self.exit_code = 3
        self.reply = asyncio.get_event_loop().create_future()
        # Verify the certificate instead of turning verification off: the test passes the server's own one.
        self.ca_certs = args.ca
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0092")
        self.register_plugin("xep_0199")
        if args.no_channel_binding:
            self.without_channel_binding()
        self.add_event_handler("session_start", self.on_session_start)
        self.add_event_handler("message", self.on_message)
        self.add_event_handler("failed_auth", self.on_failed_auth)
        self.add_event_handler("failed_all_auth", self.on_failed_all_auth)
        self.add_event_handler("disconnected", self.on_disconnected)

    def without_channel_binding(self):
        """Makes slixmpp behave as a client without channel binding (gs2 flag 'n', no -PLUS mechanism).

        slixmpp 1.8.3 (Debian bookworm) can only bind to tls-unique, which TLS 1.3 does not define (RFC 9266)
        and this server does not offer. It then retries SCRAM without -PLUS but with the gs2 flag 'y', which
        RFC 5802 §6 requires a server that supports channel binding to refuse as a downgrade.
        """
        mechs = self["feature_mechanisms"]
        mechs.use_mechs = {"SCRAM-SHA-256", "SCRAM-SHA-1"}
        default = mechs.sasl_callback

        def credentials(required, optional):
            values = default(required, optional)
            if "channel_binding" in values:
                values["channel_binding"] = None
            return values

        mechs.sasl_callback = credentials

    async def on_session_start(self, _event):
        mech = self["feature_mechanisms"].mech
        emit(
            "session_start",
            jid=str(self.boundjid),
            mechanism=getattr(mech, "name", None),
            tls=self.socket is not None and hasattr(self.socket, "version"),
            tls_version=self.socket.version() if hasattr(self.socket, "version") else None,
        )
        self.send_presence()
        try:
            await self.exchange()
            self.exit_code = 0
        except asyncio.TimeoutError:
            emit("timeout")
            self.exit_code = 2
        except Exception as err:  # reported to the test as JSON, never swallowed
            emit("error", message=f"{type(err).__name__}: {err}")
            self.exit_code = 3
        self.disconnect()

    async def exchange(self):
        a = self.args
        self.send_message(mto=a.to, mbody=a.body, mtype="chat")
        emit("sent", to=a.to, body=a.body)
        msg = await asyncio.wait_for(self.reply, a.timeout)
        emit("message", **msg)

        rtt = await self["xep_0199"].ping(jid=self.boundjid.domain, timeout=a.timeout)
        emit("ping", rtt=rtt)

        info = await self["xep_0030"].get_info(jid=self.boundjid.domain, timeout=a.timeout)
        q = info["disco_info"]
        emit(
            "disco_info",
            identities=[[i[0], i[1]] for i in q["identities"]],
            features=sorted(q["features"]),
        )

        version = await self["xep_0092"].get_version(self.boundjid.domain, timeout=a.timeout)
        sv = version["software_version"]
        emit("version", name=sv["name"], version=sv["version"])

    def on_message(self, msg):
        if msg["type"] in ("chat", "normal") and msg["from"].bare == self.args.to and not self.reply.done():
            self.reply.set_result({"from": str(msg["from"]), "to": str(msg["to"]), "body": msg["body"], "type": msg["type"]})

    def on_failed_auth(self, stanza):
        # slixmpp goes on with the next mechanism by itself (slixmpp 1.8 binds -PLUS to tls-unique only, which
        # the server does not offer: RFC 9266 leaves it undefined on TLS 1.3), so this is not the end yet.
        mech = self["feature_mechanisms"].mech
        emit("failed_auth", mechanism=getattr(mech, "name", None), condition=stanza["condition"], text=stanza["text"])
        self.exit_code = 1

    def on_failed_all_auth(self, _event):
        emit("failed_all_auth")
        self.exit_code = 1

    def on_disconnected(self, _event):
        emit("disconnected")


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--jid", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--ca", required=True, help="PEM certificate to trust (the server's self-signed one)")
    p.add_argument("--to", required=True)
    p.add_argument("--body", required=True)
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--no-channel-binding", action="store_true", help="see Peer.without_channel_binding")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    peer = Peer(args)
    # force_starttls: refuse to go on if the server does not offer STARTTLS.
    peer.connect(address=(args.host, args.port), use_ssl=False, force_starttls=True)
    try:
        peer.loop.run_until_complete(asyncio.wait_for(peer.disconnected, args.timeout * 4))
    except asyncio.TimeoutError:
        emit("timeout")
        peer.exit_code = 2
    emit("exit", code=peer.exit_code)
    sys.exit(peer.exit_code)


if __name__ == "__main__":
    main()
