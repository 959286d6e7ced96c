// Second, independent CSMS for the station tests: npm ocpp-rpc in strict mode (schema validation of every
// inbound CALL, including date-time formats). Prints one JSON object per line on stdout:
//   {"ev":"listening","port":N} {"ev":"call","method":...,"params":...} {"ev":"strict","error":...}
//   {"ev":"result","method":...,"result":...} / {"ev":"error","method":...,"code":...} {"ev":"done"}
// After the station's second Heartbeat it sends GetVariables and TriggerMessage(StatusNotification), then "done".
const { RPCServer } = require('ocpp-rpc');

function out(o) { process.stdout.write(JSON.stringify(o) + '\n'); }

async function main() {
    const server = new RPCServer({ protocols: ['ocpp2.0.1'], strictMode: true });
    server.on('client', (client) => {
        out({ ev: 'connected', identity: client.identity, protocol: client.protocol });
        let heartbeats = 0;
        client.on('strictValidationFailure', (e) => out({ ev: 'strict', error: String(e.error), method: e.method,
                                                          outbound: e.outbound, isCall: e.isCall }));
        client.on('call', (c) => { if (!c.outbound) out({ ev: 'call', method: c.payload[2], params: c.payload[3] }); });
        const now = () => new Date().toISOString();
        client.handle('BootNotification', () => ({ status: 'Accepted', interval: 1, currentTime: now() }));
        client.handle('StatusNotification', () => ({}));
        client.handle('Heartbeat', async () => {
            heartbeats += 1;
            if (heartbeats === 2) setTimeout(csmsCalls, 10);
            return { currentTime: now() };
        });
        async function csmsCalls() {
            const calls = [
                ['GetVariables', { getVariableData: [{ component: { name: 'OCPPCommCtrlr' },
                                                       variable: { name: 'MessageTimeout' } }] }],
                ['TriggerMessage', { requestedMessage: 'StatusNotification', evse: { id: 1, connectorId: 1 } }],
            ];
            for (const [method, params] of calls) {
                try {
                    out({ ev: 'result', method, result: await client.call(method, params) });
                } catch (err) {
                    out({ ev: 'error', method, code: err.rpcErrorCode || String(err) });
                }
            }
            setTimeout(() => out({ ev: 'done' }), 500);
        }
    });
    const http = await server.listen(0, '127.0.0.1');
    out({ ev: 'listening', port: http.address().port });
}

main().catch((e) => { out({ ev: 'fatal', error: String(e) }); process.exit(1); });
