// Handoff's GraphiQL page. It asks for a bearer token before anything else,
// keeps it in this tab's sessionStorage, and then runs GraphiQL with it:
// queries and mutations as POST /graphql with `Authorization: Bearer`,
// subscriptions over /graphql/ws (graphql-transport-ws) with `{"token": ...}`
// in connection_init. The page runs under `script-src 'self'`, so there is
// no inline script: everything is in this file.
(function () {
  'use strict';

  const STORAGE_KEY = 'handoff.graphiql.token';
  const ENDPOINT = '/graphql';
  const SOCKET = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/graphql/ws';
  const CHECK = 'query HandoffWhoAmI { viewer { role } }';
  const DEFAULT_QUERY = [
    '# Welcome to Handoff. Your token goes with every',
    '# request; subscriptions run over /graphql/ws.',
    '# The book icon on the left opens the schema.',
    '',
    '{',
    '  viewer {',
    '    role',
    '  }',
    '}',
    '',
  ].join('\n');

  const el = (id) => document.getElementById(id);
  const signIn = el('sign-in');
  const form = el('token-form');
  const input = el('token-input');
  const error = el('token-error');
  const cancel = el('token-cancel');
  const explorer = el('explorer');
  const signedInAs = el('signed-in-as');

  let token = null;
  let socket = null;
  let root = null;

  function storedToken() {
    try {
      return sessionStorage.getItem(STORAGE_KEY);
    } catch (_) {
      return null;
    }
  }

  function storeToken(value) {
    try {
      if (value === null) sessionStorage.removeItem(STORAGE_KEY);
      else sessionStorage.setItem(STORAGE_KEY, value);
    } catch (_) {
      // Storage refused (a private window's quota): the token lasts until reload.
    }
  }

  // `Bearer eyJ...` or `eyJ...`, with stray whitespace from a terminal.
  function cleanToken(text) {
    return text.trim().replace(/^bearer\s+/i, '').replace(/\s+/g, '');
  }

  function showForm(message) {
    error.textContent = message || '';
    error.hidden = !message;
    cancel.hidden = token === null;
    input.value = '';
    signIn.hidden = false;
    explorer.hidden = true;
    input.focus();
  }

  function showExplorer() {
    signIn.hidden = true;
    explorer.hidden = false;
  }

  async function post(body, bearer) {
    const response = await fetch(ENDPOINT, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + bearer },
      body: JSON.stringify(body),
    });
    const json = await response.json().catch(() => ({
      errors: [{ message: 'HTTP ' + response.status + ' without a JSON body' }],
    }));
    return { status: response.status, json };
  }

  // Checks a token with a tiny query; the role it answers is shown in the bar.
  async function check(candidate) {
    let answer;
    try {
      answer = await post({ query: CHECK, operationName: 'HandoffWhoAmI' }, candidate);
    } catch (e) {
      return { refused: 'The server did not answer: ' + e.message };
    }
    const role = answer.json && answer.json.data && answer.json.data.viewer && answer.json.data.viewer.role;
    if (role) return { role };
    const first = answer.json && answer.json.errors && answer.json.errors[0];
    return { refused: 'The token was refused: ' + (first ? first.message : 'HTTP ' + answer.status) };
  }

  function closeSocket() {
    if (socket !== null) {
      socket.dispose();
      socket = null;
    }
  }

  function client() {
    if (socket === null) {
      socket = graphqlWs.createClient({
        url: SOCKET,
        lazy: true,
        connectionParams: () => ({ token }),
        // 4403: the token expired or its user lost the role; retrying with
        // the same token cannot help.
        shouldRetry: (event) => !(event && event.code === 4403),
      });
    }
    return socket;
  }

  // Whether the operation to run is a subscription, read from the text that
  // is sent (GraphiQL's parsed document can lag behind the editor).
  // Comments, strings and what is inside parentheses (variables' default
  // values) are skipped; each `{` at the top level opens an operation, or a
  // fragment.
  function isSubscription(query, operationName) {
    const text = (query || '').replace(/"""[\s\S]*?"""|"(?:[^"\\\n]|\\.)*"|#[^\n]*/g, ' ');
    const token = /[{}()]|\b(query|mutation|subscription|fragment)\b\s*([_A-Za-z][_0-9A-Za-z]*)?/g;
    const operations = [];
    let braces = 0;
    let parens = 0;
    let heading = null;
    for (let match = token.exec(text); match !== null; match = token.exec(text)) {
      const t = match[0];
      if (t === '(') parens++;
      else if (t === ')') parens = Math.max(0, parens - 1);
      else if (parens > 0) continue;
      else if (t === '{') {
        if (braces === 0) operations.push(heading || { type: 'query', name: null });
        heading = null;
        braces++;
      } else if (t === '}') braces = Math.max(0, braces - 1);
      else if (braces === 0) heading = { type: match[1], name: match[2] || null };
    }
    const candidates = operations.filter((o) => o.type !== 'fragment');
    const operation = operationName
      ? candidates.find((o) => o.name === operationName)
      : candidates.length === 1 ? candidates[0] : undefined;
    return operation !== undefined && operation.type === 'subscription';
  }

  function describe(failure) {
    if (Array.isArray(failure)) return { errors: failure };
    if (failure && typeof failure.code === 'number') {
      const why = failure.code === 4403
        ? 'the token was refused (expired, or its user changed): change the token'
        : failure.reason || 'see the server log';
      return { errors: [{ message: 'The socket closed with ' + failure.code + ': ' + why }] };
    }
    return { errors: [{ message: String((failure && failure.message) || failure) }] };
  }

  // graphql-ws's iterator, with a failure turned into one last result that
  // GraphiQL shows, instead of an exception it prints as "[object Event]".
  // Not an async generator: stopping must reach graphql-ws at once, even
  // while it waits for the next event.
  function subscribe(params) {
    const events = client().iterate({
      query: params.query,
      variables: params.variables,
      operationName: params.operationName,
      extensions: params.extensions,
    });
    let failed = false;
    return {
      [Symbol.asyncIterator]() {
        return this;
      },
      next() {
        if (failed) return Promise.resolve({ done: true, value: undefined });
        return events.next().catch((failure) => {
          failed = true;
          return { done: false, value: describe(failure) };
        });
      },
      return() {
        failed = true;
        return events.return ? events.return() : Promise.resolve({ done: true, value: undefined });
      },
    };
  }

  function fetcher(params, options) {
    if (isSubscription(params.query, params.operationName)) return subscribe(params);
    const headers = Object.assign({ 'Content-Type': 'application/json' }, options && options.headers);
    if (!Object.keys(headers).some((name) => name.toLowerCase() === 'authorization')) {
      headers.Authorization = 'Bearer ' + token;
    }
    return fetch(ENDPOINT, { method: 'POST', headers, body: JSON.stringify(params) }).then((response) =>
      response.json().catch(() => ({ errors: [{ message: 'HTTP ' + response.status + ' without a JSON body' }] })),
    );
  }

  // (Re)starts GraphiQL, so that the schema is fetched with the current token.
  function startGraphiQL() {
    if (root !== null) root.unmount();
    root = ReactDOM.createRoot(el('graphiql'));
    root.render(
      React.createElement(GraphiQL, {
        fetcher,
        defaultQuery: DEFAULT_QUERY,
        defaultEditorToolsVisibility: false,
      }),
    );
  }

  async function useToken(candidate, fromForm) {
    const answer = await check(candidate);
    if (answer.refused) {
      if (!fromForm) storeToken(null);
      showForm(answer.refused);
      return;
    }
    token = candidate;
    storeToken(candidate);
    signedInAs.textContent = 'as ' + answer.role;
    closeSocket();
    showExplorer();
    startGraphiQL();
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const candidate = cleanToken(input.value);
    if (candidate === '') {
      showForm('Paste a token first.');
      return;
    }
    useToken(candidate, true);
  });

  cancel.addEventListener('click', showExplorer);
  el('change-token').addEventListener('click', () => showForm(''));
  el('forget-token').addEventListener('click', () => {
    token = null;
    storeToken(null);
    closeSocket();
    if (root !== null) {
      root.unmount();
      root = null;
    }
    showForm('');
  });

  const saved = storedToken();
  if (saved) useToken(saved, false);
  else showForm('');
})();
