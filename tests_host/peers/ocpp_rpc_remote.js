// npm ocpp-rpc in strict mode as a CSMS driven from a test over stdin/stdout (one JSON object per line).
// Out: {"ev":"listening","port":N} {"ev":"connected",...} {"ev":"call","method":...,"params":...}
//      {"ev":"strict","error":...} (a schema violation, either direction) {"ev":"reply","id":...,"result"|"code":...}
// In:  {"id":N,"method":"TriggerMessage","params":{...}}  -> a CSMS-initiated CALL to the connected station.
// Every "call" line is printed when the station's CALL arrives, so the order of lines is the wire order.
const { RPCServer } = require('ocpp-rpc');
const readline = require('readline');

function out(o) { process.stdout.write(JSON.stringify(o) + '\n'); }

async function main() {
    const server = new RPCServer({ protocols: ['ocpp2.0.1'], strictMode: true });
    let client = null;
    server.on('client', (c) => {
        client = c;
        out({ ev: 'connected', identity: c.identity, protocol: c.protocol });
        c.on('strictValidationFailure', (e) => out({ ev: 'strict', error: String(e.error), method: e.method }));
        c.on('call', (x) => { if (!x.outbound) out({ ev: 'call', method: x.payload[2], params: x.payload[3] }); });
        const now = () => new Date().toISOString();
        c.handle('BootNotification', () => ({ status: 'Accepted', interval: 300, currentTime: now() }));
        c.handle('Heartbeat', () => ({ currentTime: now() }));
        c.handle('SignCertificate', () => ({ status: 'Accepted' }));
        for (const m of ['StatusNotification', 'MeterValues', 'TransactionEvent', 'LogStatusNotification',
                         'FirmwareStatusNotification']) {
            c.handle(m, () => ({}));
        }
    });
    readline.createInterface({ input: process.stdin }).on('line', async (line) => {
        const req = JSON.parse(line);
        try {
            out({ ev: 'reply', id: req.id, result: await client.call(req.method, req.params) });
        } catch (err) {
            out({ ev: 'reply', id: req.id, code: err.rpcErrorCode || String(err) });
        }
    });
    const http = await server.listen(0, '127.0.0.1');
    out({ ev: 'listening', port: http.address().port });
}

main().catch((e) => { out({ ev: 'fatal', error: String(e) }); process.exit(1); });
