// The hosted payment page of payledger: the PSP's browser library turns
// the card into a single-use token, and the server saves the card and
// confirms the payment. A card that asks for 3-D Secure is authenticated
// here with the client secret, then confirmed on the server again.
(function () {
  'use strict';
  var form = document.getElementById('pay');
  var button = document.getElementById('pay-button');
  var status = document.getElementById('status');
  var stripe = Stripe(form.dataset.publishableKey);
  var card = stripe.elements().create('card');
  card.mount('#card');

  function show(text) {
    status.textContent = text;
  }

  function again(text) {
    show(text);
    button.disabled = false;
  }

  async function confirm(body) {
    var response = await fetch(form.dataset.confirmUrl, {
      method: 'POST',
      headers: {'Content-Type': 'application/json'},
      body: JSON.stringify(body),
      credentials: 'omit',
    });
    return response.json();
  }

  async function finish(answer) {
    if (answer.status === 'requires_action') {
      show(answer.message || 'Confirm the payment with your bank.');
      await stripe.confirmCardPayment(answer.clientSecret || form.dataset.clientSecret);
      answer = await confirm({});
    }
    if (answer.redirect) {
      show(answer.message || '');
      window.location.assign(answer.redirect);
      return;
    }
    again(answer.message || 'The payment could not be completed.');
  }

  form.addEventListener('submit', async function (event) {
    event.preventDefault();
    button.disabled = true;
    show('Paying…');
    try {
      var made = await stripe.createToken(card);
      if (!made || made.error || !made.token) {
        again((made && made.error && made.error.message) || 'The card could not be read.');
        return;
      }
      await finish(await confirm({token: made.token.id}));
    } catch (failure) {
      again('The payment could not be sent. Try again.');
    }
  });
})();
