//! The operator's side of the monitor: who is signed in as an operator,
//! the form to sign in and the button to sign out, and `OperatorOnly`,
//! which shows its controls to a signed-in operator alone (the server
//! refuses their actions to anyone else all the same).

use crate::api::{current_operator, OperatorSignIn, OperatorSignOut};
use crate::components::notice::{ErrorNotice, Loading};
use crate::error::ApiError;
use leptos::prelude::*;

/// The monitor's operator: read again after every sign-in and sign-out.
#[derive(Clone, Copy)]
pub struct OperatorState {
    operator: Resource<Result<Option<String>, ApiError>>,
    sign_in: ServerAction<OperatorSignIn>,
    sign_out: ServerAction<OperatorSignOut>,
}

impl OperatorState {
    fn signed_in(&self) -> bool {
        matches!(self.operator.get(), Some(Ok(Some(_))))
    }
}

pub fn provide_operator_state() {
    let sign_in = ServerAction::<OperatorSignIn>::new();
    let sign_out = ServerAction::<OperatorSignOut>::new();
    let operator = Resource::new(
        move || (sign_in.version().get(), sign_out.version().get()),
        |_| current_operator(),
    );
    provide_context(OperatorState {
        operator,
        sign_in,
        sign_out,
    });
}

/// Its children, for a signed-in operator only.
#[component]
pub fn OperatorOnly(children: ChildrenFn) -> impl IntoView {
    let state = expect_context::<OperatorState>();
    view! {
        <Transition fallback=|| ()>
            {move || state.signed_in().then(|| children())}
        </Transition>
    }
}

#[component]
pub fn OperatorPanel() -> impl IntoView {
    let state = expect_context::<OperatorState>();
    let name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let pending = move || state.sign_in.pending().get();
    let error = move || state.sign_in.value().get().and_then(|r| r.err());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        state.sign_in.dispatch(OperatorSignIn {
            name: name.get_untracked(),
            password: password.get_untracked(),
        });
        password.set(String::new());
    };
    let sign_out = move |_| {
        state.sign_out.dispatch(OperatorSignOut {});
    };

    view! {
        <section class="panel" data-testid="operator">
            <h2>"Operator"</h2>
            <Transition fallback=|| view! { <Loading what="who is signed in"/> }>
                {move || state.operator.get().map(|result| match result {
                    Ok(Some(who)) => view! {
                        <p data-testid="signed-in-operator">
                            "Signed in as " <strong>{who}</strong> " · "
                            <button type="button" class="button" data-testid="operator-sign-out"
                                on:click=sign_out>"Sign out"</button>
                        </p>
                    }.into_any(),
                    Ok(None) => view! {
                        <p>"Everyone may watch the cluster here. Sign in as an operator to start elections and switch the replication mode."</p>
                        <form class="operator-sign-in" on:submit=submit>
                            <label for="operator-name">"Operator name"</label>
                            <input id="operator-name" name="name" type="text" autocomplete="username"
                                required maxlength="32" prop:value=name
                                on:input=move |ev| name.set(event_target_value(&ev))/>
                            <label for="operator-password">"Password"</label>
                            <input id="operator-password" name="password" type="password"
                                autocomplete="current-password" required maxlength="256"
                                prop:value=password
                                on:input=move |ev| password.set(event_target_value(&ev))/>
                            <button type="submit" class="button" data-testid="operator-sign-in"
                                disabled=pending>
                                {move || if pending() { "Signing in…" } else { "Sign in" }}
                            </button>
                        </form>
                        {move || error().map(|e| view! { <p class="field-error" role="alert">{e.message}</p> })}
                    }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                })}
            </Transition>
        </section>
    }
}
