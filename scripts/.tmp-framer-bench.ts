import { XmlFramer } from '../server/xml/framer.js';
const HEADER = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";
const stanza = "<message to='juliet@example.com/balcony' id='x1' type='chat' xml:lang='en'><body>Wherefore art thou, Romeo? &amp; more</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>";
const chunk = Buffer.from(stanza.repeat(300));
const N = 300;
for (let r = 0; r < 8; r++) {
  const t = process.hrtime.bigint();
  let n = 0;
  const f = new XmlFramer({ maxStanzaBytes: 65536, maxDepth: 32, maxAttributes: 64 }, { streamOpen() {}, stanza() { n++; }, streamClose() {}, error(c, t) { throw new Error(c + t); } });
  f.write(Buffer.from(HEADER));
  for (let i = 0; i < N; i++) f.write(chunk);
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r >= 3) console.log('framer', ms.toFixed(1), 'ms', ((chunk.length * N) / 1e6 / (ms / 1000)).toFixed(0), 'MB/s', (n / ms * 1000 / 1000).toFixed(0), 'k stanzas/s');
}
