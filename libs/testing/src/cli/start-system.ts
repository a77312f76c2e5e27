// `npm start`, after the engines are up and the code is built: runs the five services and the
// operator's console in the foreground until interrupted, then stops them gracefully. A service that dies takes the
// system down with a non-zero exit, so a broken start is never mistaken for a running one.
import { CONSOLE, SERVICES, startServices, type RunningService } from '../services';

async function run(): Promise<number> {
  const started = Date.now();
  let services: RunningService[];
  try {
    services = await startServices([...SERVICES, CONSOLE]);
  } catch (error) {
    process.stderr.write(`[start] ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
  process.stdout.write(
    `[start] all services ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
  for (const s of services) {
    process.stdout.write(
      s.name === CONSOLE.name
        ? `[start]   ${s.name.padEnd(20)} ${s.url()}  (the operator's console: sign in as olga, her password: npm run -s token -- olga --password; log ${s.logFile})\n`
        : `[start]   ${s.name.padEnd(20)} ${s.url()}  (docs ${s.url('/docs')}, log ${s.logFile})\n`,
    );
  }
  process.stdout.write('[start] press Ctrl-C to stop\n');

  const stopAll = async (): Promise<void> => {
    await Promise.all(services.map((s) => s.stop()));
  };
  return new Promise<number>((resolve) => {
    let stopping = false;
    const shutdown = (code: number) => {
      if (stopping) return;
      stopping = true;
      process.stdout.write('[start] stopping services\n');
      void stopAll().then(() => {
        resolve(code);
      });
    };
    process.once('SIGINT', () => {
      shutdown(0);
    });
    process.once('SIGTERM', () => {
      shutdown(0);
    });
    for (const s of services) {
      void s.whenExited().then((code) => {
        if (stopping) return;
        process.stderr.write(
          `[start] ${s.name} exited (code ${code}); last log lines:\n${s.logTail(20)}\n`,
        );
        shutdown(1);
      });
    }
  });
}

void run().then((code) => process.exit(code));
