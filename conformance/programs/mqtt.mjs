// mqtt.js against Mosquitto: subscribe, publish with QoS 1, receive, disconnect.
export default {
  kind: 'broker',
  what: 'mqtt 5 on Mosquitto 1883: subscribe, publish QoS 0 and 1, receive both, end',
  packages: { mqtt: '5.14.1' },
  services: ['mosquitto'],
  files: {
    'app.js': `const mqtt = require('mqtt');
const topic = 'conformance/' + process.env.SUFFIX;
const client = mqtt.connect('mqtt://127.0.0.1:1883', { clientId: 'c-' + process.env.SUFFIX });
let got = 0;
client.on('connect', () => {
  client.subscribe(topic, { qos: 1 }, () => {
    client.publish(topic, 'hello ' + Date.now() % 1000, { qos: 0 });
    client.publish(topic, 'world', { qos: 1 });
  });
});
client.on('message', (t, m) => {
  console.log('message', String(m).split(' ')[0]);
  if (++got === 2) client.end(() => console.log('ended'));
});
`,
  },
  command: ['node', 'app.js'],
};
