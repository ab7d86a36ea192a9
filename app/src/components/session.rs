//! The moviegoer's identity in the UI: who is signed in, the badge in the
//! header, and the one-field form that asks for a name.

use crate::api::SignIn;
use crate::deferred::current_user;
use crate::error::ApiError;
use crate::model::User;
use leptos::prelude::*;

/// Shared by every page: the current user, refetched after signing in.
#[derive(Clone, Copy)]
pub struct Session {
    pub user: Resource<Result<Option<User>, ApiError>>,
}

impl Session {
    /// The signed-in user, once known.
    pub fn user(&self) -> Option<User> {
        self.user.get().and_then(|r| r.ok()).flatten()
    }
}

pub fn provide_session() {
    let user = Resource::new(|| (), |_| current_user());
    provide_context(Session { user });
}

pub fn use_session() -> Session {
    expect_context::<Session>()
}

#[component]
pub fn UserBadge() -> impl IntoView {
    let session = use_session();
    view! {
        <Suspense fallback=|| ()>
            {move || session.user().map(|user| view! {
                <span class="user-badge" data-testid="user-badge">
                    "Hi, " {user.name}
                </span>
            })}
        </Suspense>
    }
}

/// Asks for a name once; afterwards the cookie remembers it.
#[component]
pub fn SignInForm() -> impl IntoView {
    let session = use_session();
    let action = ServerAction::<SignIn>::new();
    let name = RwSignal::new(String::new());
    let error = move || action.value().get().and_then(|r| r.err());

    Effect::new(move |_| {
        if let Some(Ok(_)) = action.value().get() {
            session.user.refetch();
        }
    });

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        action.dispatch(SignIn {
            name: name.get_untracked(),
        });
    };

    view! {
        <form class="sign-in" on:submit=submit>
            <label for="user-name">"Your name, to keep your bookings together"</label>
            <div class="sign-in-row">
                <input
                    id="user-name"
                    name="name"
                    type="text"
                    autocomplete="name"
                    maxlength="60"
                    placeholder="e.g. Ada Lovelace"
                    prop:value=name
                    on:input=move |ev| name.set(event_target_value(&ev))
                />
                <button type="submit" class="button" disabled=move || action.pending().get()>
                    {move || if action.pending().get() { "Saving…" } else { "Continue" }}
                </button>
            </div>
            {move || error().map(|e| view! { <p class="field-error" role="alert">{e.message}</p> })}
        </form>
    }
}
