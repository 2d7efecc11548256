import { connectNats } from "./src/nats/connect.js";

const t0 = Date.now();
try {
  const nc = await connectNats({ servers: "nats://127.0.0.1:14999", secure: true, ca: "/tmp/tlsprobe/ca.pem" });
  console.log("connected?!");
  await nc.close();
} catch (e) {
  console.log(
    "ERR",
    Date.now() - t0,
    (e as Error).name,
    (e as Error).message,
    (e as any).code,
    String((e as any).cause),
  );
}
