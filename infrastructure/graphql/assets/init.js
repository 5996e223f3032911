// Starts GraphiQL against this server's /graphql. A file rather than an inline script, so
// the page works under a content security policy that allows only the app's own scripts.
// Send a token with the Headers tab: {"Authorization": "Bearer <token>"}.
(function () {
  var fetcher = GraphiQL.createFetcher({ url: '/graphql' });
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultEditorToolsVisibility: true,
      defaultQuery: '# Log in with the logIn mutation, then put the token in the Headers tab:\n' +
        '# {"Authorization": "Bearer <token>"}\n{\n  me {\n    email\n  }\n}\n',
    })
  );
})();
