// Serves @labdigital/commercetools-mock (in memory, no authentication) on
// 127.0.0.1 so `payledger-bench load` can measure it the same way as
// payledger. Usage: node server.mjs [PORT]  (0 or none: a free port).
// Prints `commercetools-mock listening on URL` once it accepts requests.
import { CommercetoolsMock } from '@labdigital/commercetools-mock';

const mock = new CommercetoolsMock({
  enableAuthentication: false,
  validateCredentials: false,
  defaultProjectKey: 'bench',
});
const port = Number(process.argv[2] ?? 0);
const address = await mock.app.listen({ port, host: '127.0.0.1' });
console.log(`commercetools-mock listening on ${address}`);
