// Fault campaign, WebSocketServer: the peer destroyed (FIN or RST, alternately)
// during the handshake, right after the 101, inside a frame header, inside
// a payload, inside a fragmented and a compressed message, and during the
// closing handshake; 1,001 connections (see _run.ts and campaign.ts).
import t from "tap";
import { campaign } from "./_run.ts";

t.test("WebSocketServer survives peers destroyed at every point, without leaks", (t) => campaign(t, "server"));
