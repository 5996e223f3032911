// Starts GraphiQL against this server: queries and mutations over HTTP at /graphql,
// subscriptions over WebSocket at /graphql/ws (graphql-transport-ws, with the graphql-ws
// client that the GraphiQL bundle carries). A file rather than an inline script, so the
// page works under a content security policy that allows only the app's own scripts.
//
// Send a token with the Headers tab: {"Authorization": "Bearer <token>"}. HTTP requests
// carry it as a header; a subscription, which cannot set headers on a WebSocket, sends the
// same headers as connection_init's payload, where the server looks for it.
(function () {
  var scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  var fetcher = GraphiQL.createFetcher({
    url: '/graphql',
    subscriptionUrl: scheme + '//' + location.host + '/graphql/ws',
  });
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultEditorToolsVisibility: true,
      defaultQuery:
        '# Log in with the logIn mutation, then put the token in the Headers tab:\n' +
        '# {"Authorization": "Bearer <token>"}\n{\n  me {\n    email\n  }\n}\n\n' +
        '# Live: run this, then change a todo (here, over REST or gRPC) and watch.\n' +
        '# subscription {\n#   todoEvents { eventId type todoId version tag }\n# }\n',
    })
  );
})();
