//! The REST API against a real node process and a real PostgreSQL: booking,
//! reading back, cancelling, rejecting bad input without changing anything,
//! exactly one winner when 200 clients race for the same seat (or 20 for
//! the same two, listed in either order), and
//! moviegoers who are who the session the server gave them says.

mod common;

use common::{not_available, seat_states, start_node, NodeApi};
use futures::future::join_all;
use serde_json::{json, Value};

#[tokio::test]
async fn a_booking_is_priced_by_the_server_stamped_and_readable() {
    let node = start_node("book_and_read").await;
    let showtime = node.future_showtime(1).await;
    let (status, booking) = node
        .book(json!({
            "userId": "ada", "userName": "Ada", "showtimeId": showtime,
            "seats": ["F2", "A10", "A1"], "totalCents": 1, "price": 0
        }))
        .await;
    assert_eq!(status, 201, "{booking}");
    // In the seat map's order, whatever the order asked in.
    assert_eq!(booking["seats"], json!(["A1", "A10", "F2"]));
    assert_eq!(booking["status"], "confirmed");
    assert_eq!(booking["processedBy"], "node-1");
    assert!(booking["logicalClock"].as_u64().unwrap() >= 1);
    assert_eq!(booking["vectorClock"]["node-1"], booking["logicalClock"]);
    assert!(booking["timestamp"].is_string());

    // The price comes from the showtime's prices, never from the client.
    let details: Value = node.get_json("/api/movies?id=1").await;
    let show = details["showtimes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == showtime)
        .unwrap();
    let map: Value = node
        .get_json(&format!("/api/seats?showtimeId={showtime}"))
        .await;
    let row_price = |label: &str| {
        map["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["label"] == label)
            .unwrap()["priceCents"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(row_price("A"), show["priceCents"].as_i64().unwrap());
    assert_eq!(
        booking["totalCents"].as_i64().unwrap(),
        2 * row_price("A") + row_price("F")
    );

    // The answer, made from the booking as written, is the booking as read
    // back, to the microsecond of its timestamp.
    let id = booking["id"].as_str().unwrap();
    let by_id: Value = node.get_json(&format!("/api/bookings?id={id}")).await;
    assert_eq!(by_id, booking);
    let mine: Value = node.get_json("/api/bookings?userId=ada").await;
    assert_eq!(mine.as_array().unwrap().len(), 1);

    let states = seat_states(&node, showtime, "ada").await;
    assert!(states.contains(&("A1".into(), "yours".into())));
    let states = seat_states(&node, showtime, "someone-else").await;
    assert!(states.contains(&("F2".into(), "taken".into())));
    assert_eq!(
        not_available(&states),
        vec!["A1".to_string(), "A10".to_string(), "F2".to_string()]
    );
}

#[tokio::test]
async fn bad_input_gets_a_clear_4xx_and_changes_nothing() {
    let node = start_node("bad_input").await;
    let showtime = node.future_showtime(2).await;

    // A showtime that has already started.
    let store = moviebook::store::Store::connect(
        &moviebook::store::url_with_database(
            &std::env::var("DATABASE_URL").unwrap(),
            &format!("it_bad_input_1_{}", std::process::id()),
        ),
        1,
    )
    .await
    .unwrap();
    sqlx::query("INSERT INTO showtimes (id, movie_id, auditorium_id, starts_at, price_cents, premium_price_cents) VALUES (7, 1, 3, now() - interval '10 minutes', 1000, 1400)")
        .execute(store.pool())
        .await
        .unwrap();

    let raw = |body: &'static str| {
        node.client
            .post(node.url("/api/bookings"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let malformed = raw("{\"userId\": \"x\", ").await.unwrap();
    assert_eq!(malformed.status(), 400);
    let error: Value = malformed.json().await.unwrap();
    assert_eq!(error["error"]["code"], "bad_request");
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not valid JSON"));
    assert_eq!(raw("{\"userId\": \"x\"}").await.unwrap().status(), 400);
    assert_eq!(raw("[]").await.unwrap().status(), 400);
    let no_type = node
        .client
        .post(node.url("/api/bookings"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(no_type.status(), 400);

    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (
            json!({"userId": "u", "showtimeId": 424242, "seats": ["A1"]}),
            404,
            "not_found",
            "no such showtime",
        ),
        (
            json!({"userId": "u", "showtimeId": showtime, "seats": []}),
            422,
            "invalid_input",
            "at least one seat",
        ),
        (
            json!({"userId": "u", "showtimeId": showtime, "seats": ["A1", "A1"]}),
            422,
            "invalid_input",
            "A1 is listed twice",
        ),
        (
            json!({"userId": "u", "showtimeId": showtime, "seats": ["Z99"]}),
            422,
            "invalid_input",
            "no seat \"Z99\"",
        ),
        (
            json!({"userId": "u", "showtimeId": showtime, "seats": ["A1; DROP TABLE bookings"]}),
            422,
            "invalid_input",
            "no seat",
        ),
        (
            json!({"userId": "u", "showtimeId": showtime,
                "seats": ["A1","A2","A3","A4","A5","A6","A7","A8","B1","B2","B3"]}),
            422,
            "invalid_input",
            "at most 10",
        ),
        (
            json!({"userId": "u", "showtimeId": 7, "seats": ["A1"]}),
            422,
            "invalid_input",
            "already started",
        ),
        (
            json!({"userId": "no spaces allowed", "showtimeId": showtime, "seats": ["A1"]}),
            422,
            "invalid_input",
            "userId",
        ),
        (
            json!({"userId": "u", "userName": "   ", "showtimeId": showtime, "seats": ["A1"]}),
            422,
            "invalid_input",
            "name",
        ),
        (
            json!({"userId": "u", "showtimeId": "nine", "seats": ["A1"]}),
            400,
            "bad_request",
            "showtimeId",
        ),
    ];
    for (body, status, code, message) in cases {
        let (got, error) = node.book(body.clone()).await;
        assert_eq!(got, status, "{body} -> {error}");
        assert_eq!(error["error"]["code"], code, "{body}");
        let text = error["error"]["message"].as_str().unwrap();
        assert!(text.contains(message), "{body}: {text:?} lacks {message:?}");
        assert!(
            !text.to_lowercase().contains("sql"),
            "no database text leaks: {text}"
        );
    }

    // Nothing was booked by any of it.
    assert!(not_available(&seat_states(&node, showtime, "u").await).is_empty());
    let mine: Value = node.get_json("/api/bookings?userId=u").await;
    assert_eq!(mine, json!([]));

    let wrong_method = node
        .client
        .put(node.url("/api/movies"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status(), 405);
    let body: Value = wrong_method.json().await.unwrap();
    assert!(body["error"]["message"].is_string());

    // Query strings are checked too (asked by an operator, who may ask
    // for anyone's bookings).
    for (path, status) in [
        ("/api/movies?id=abc", 400),
        ("/api/movies?id=999999", 404),
        ("/api/bookings", 400),
        ("/api/bookings?id=not-a-uuid", 422),
        ("/api/bookings?id=6F0C2A4E-8B1D-4C3E-9F5A-2D7B8E1C0A93", 422),
        (
            "/api/bookings?id={6f0c2a4e-8b1d-4c3e-9f5a-2d7b8e1c0a93}",
            422,
        ),
        ("/api/bookings?id=6f0c2a4e8b1d4c3e9f5a2d7b8e1c0a93", 422),
        ("/api/bookings?id=00000000-0000-0000-0000-000000000000", 404),
        ("/api/bookings?userId=bad%20id", 422),
        ("/api/seats?showtimeId=", 400),
        ("/api/seats?showtimeId=1", 404),
        ("/api/nothing-here", 404),
    ] {
        let request = node.client.get(node.url(path));
        let response = request
            .bearer_auth(node.operator_token())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{path}");
        let body: Value = response.json().await.unwrap();
        assert!(body["error"]["message"].is_string(), "{path}: {body}");
    }
}

#[tokio::test]
async fn two_hundred_clients_racing_for_one_seat_give_exactly_one_booking() {
    let node = start_node("race").await;
    let showtime = node.future_showtime(3).await;
    let attempts = (0..200).map(|i| {
        node.book(json!({"userId": format!("racer-{i}"), "showtimeId": showtime, "seats": ["C5"]}))
    });
    let results = join_all(attempts).await;
    let created = results.iter().filter(|(s, _)| *s == 201).count();
    let conflicts: Vec<&Value> = results
        .iter()
        .filter(|(s, _)| *s == 409)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(created, 1, "exactly one winner");
    assert_eq!(
        conflicts.len(),
        199,
        "everyone else is told the seat is taken"
    );
    for error in conflicts {
        assert_eq!(error["error"]["code"], "seats_taken");
        assert_eq!(error["error"]["seats"], json!(["C5"]));
        assert!(error["error"]["message"].as_str().unwrap().contains("C5"));
    }
    let states = seat_states(&node, showtime, "nobody").await;
    assert_eq!(not_available(&states), vec!["C5".to_string()]);
}

#[tokio::test]
async fn clients_racing_for_the_same_seats_listed_in_opposite_orders_get_answers_not_errors() {
    let node = start_node("opposite_orders").await;
    let showtime = node.future_showtime(3).await;
    let pairs = ["D", "E"]
        .iter()
        .flat_map(|row| [1, 3, 5, 7].map(|n| (format!("{row}{n}"), format!("{row}{}", n + 1))));
    for (first, second) in pairs {
        let attempts = (0..20).map(|i| {
            let seats = if i % 2 == 0 {
                [&first, &second]
            } else {
                [&second, &first]
            };
            node.book(
                json!({"userId": format!("racer-{i}"), "showtimeId": showtime, "seats": seats}),
            )
        });
        let results = join_all(attempts).await;
        let statuses: Vec<u16> = results.iter().map(|(status, _)| *status).collect();
        assert_eq!(
            statuses.iter().filter(|s| **s == 201).count(),
            1,
            "{statuses:?} {:?}",
            results[0].1
        );
        assert_eq!(
            statuses.iter().filter(|s| **s == 409).count(),
            19,
            "{statuses:?}"
        );
    }
}

#[tokio::test]
async fn cancelling_frees_the_seats_and_only_the_owner_may_cancel() {
    let node = start_node("cancel").await;
    let showtime = node.future_showtime(4).await;
    let (_, booking) = node
        .book(json!({"userId": "owner", "showtimeId": showtime, "seats": ["B3", "B4"]}))
        .await;
    let id = booking["id"].as_str().unwrap().to_string();
    let cancel = |user: &str| {
        node.client
            .delete(node.url(&format!("/api/bookings?id={id}")))
            .bearer_auth(node.user_token(user))
            .send()
    };
    assert_eq!(cancel("intruder").await.unwrap().status(), 403);
    // Naming the owner does not make an intruder one.
    let posing = node
        .client
        .delete(node.url(&format!("/api/bookings?id={id}&userId=owner")))
        .bearer_auth(node.user_token("intruder"))
        .send()
        .await
        .unwrap();
    assert_eq!(posing.status(), 403);
    let anonymous = node
        .client
        .delete(node.url(&format!("/api/bookings?id={id}&userId=owner")))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        not_available(&seat_states(&node, showtime, "x").await).len(),
        2
    );

    let response = cancel("owner").await.unwrap();
    assert_eq!(response.status(), 200);
    let cancelled: Value = response.json().await.unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert!(not_available(&seat_states(&node, showtime, "x").await).is_empty());
    assert_eq!(cancel("owner").await.unwrap().status(), 409);

    // The freed seats can be booked again.
    let (status, _) = node
        .book(json!({"userId": "next", "showtimeId": showtime, "seats": ["B3"]}))
        .await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn movies_can_be_listed_read_and_added() {
    let node = start_node("movies").await;
    let response = node
        .client
        .get(node.url("/api/movies"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-moviebook-node"], "node-1");
    let movies: Value = response.json().await.unwrap();
    assert!(movies.as_array().unwrap().len() >= 8);
    assert!(movies[0]["durationMinutes"].is_i64());

    let operator = node.operator_token();
    let post_movie = |movie: &Value| {
        let request = node.client.post(node.url("/api/movies")).json(movie);
        request.bearer_auth(&operator).send()
    };
    let new_movie = json!({
        "title": "Test Pattern", "description": "A film about a test card.",
        "genres": ["Documentary"], "rating": 6.5, "durationMinutes": 80,
        "releaseYear": 2026, "certificate": "PG"
    });
    let response = post_movie(&new_movie).await.unwrap();
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["posterUrl"], "/posters/default.svg");
    let movies: Value = node.get_json("/api/movies").await;
    assert!(movies
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["title"] == "Test Pattern"));

    let mut bad = new_movie.clone();
    bad["rating"] = json!(11);
    let response = post_movie(&bad).await.unwrap();
    assert_eq!(response.status(), 422);
    let mut bad = new_movie.clone();
    bad["posterUrl"] = json!("https://elsewhere.example/p.png");
    let response = post_movie(&bad).await.unwrap();
    assert_eq!(response.status(), 422);
}

#[tokio::test]
async fn a_restarted_node_resumes_its_clocks() {
    let database = "restart";
    let node = start_node(database).await;
    let showtime = node.future_showtime(5).await;
    let (_, first) = node
        .book(json!({"userId": "u", "showtimeId": showtime, "seats": ["A1"]}))
        .await;
    let (_, second) = node
        .book(json!({"userId": "u", "showtimeId": showtime, "seats": ["A2"]}))
        .await;
    assert!(second["logicalClock"].as_u64() > first["logicalClock"].as_u64());
    drop(node);

    let node = start_node(database).await;
    let (status, third) = node
        .book(json!({"userId": "u", "showtimeId": showtime, "seats": ["A3"]}))
        .await;
    assert_eq!(status, 201);
    assert!(third["logicalClock"].as_u64() > second["logicalClock"].as_u64());
    assert!(third["vectorClock"]["node-1"].as_u64() > second["vectorClock"]["node-1"].as_u64());
    let mine: Value = node.get_json("/api/bookings?userId=u").await;
    assert_eq!(
        mine.as_array().unwrap().len(),
        3,
        "bookings survive the restart"
    );
}

/// Other ways to write seat `row``number`: signs, zeros, case, spaces,
/// non-ASCII digits and letters, invisible characters. None is its label.
fn respellings(row: char, number: u32) -> Vec<String> {
    let digits = number.to_string();
    let shift = |zero: u32| -> String {
        digits
            .chars()
            .map(|d| char::from_u32(zero + d.to_digit(10).unwrap()).unwrap())
            .collect()
    };
    let lower = row.to_ascii_lowercase();
    let full_width_row = char::from_u32(row as u32 - 'A' as u32 + 0xFF21).unwrap();
    let mut spellings = vec![
        format!("{row}+{number}"),
        format!("{row}+0{number}"),
        format!("{row}0{number}"),
        format!("{row}00{number}"),
        format!("{lower}{number}"),
        format!(" {row}{number}"),
        format!("{row}{number} "),
        format!("{row} {number}"),
        format!("{row}\t{number}"),
        format!("{row}{number}\n"),
        format!("{row}\u{200B}{number}"),
        format!("{row}{number}\u{200D}"),
        format!("\u{FEFF}{row}{number}"),
        format!("{row}\u{00AD}{number}"),
        format!("{row}{}", shift(0xFF10)),
        format!("{full_width_row}{number}"),
        format!("{row}{}", shift(0x0660)),
        format!("{row}{}", shift(0x0966)),
        format!("{row}{}", shift(0x1D7CE)),
        format!("{row}{number}.0"),
        format!("{row}{number}e0"),
        format!("{row}-{number}"),
        format!("{row}{number}\0"),
    ];
    if row == 'C' {
        spellings.push(format!("\u{0421}{number}"));
    }
    spellings
}

#[tokio::test]
async fn a_taken_seat_cannot_be_booked_again_under_another_spelling() {
    let node = start_node("spellings").await;
    let showtime = node.future_showtime_in_a_hall_of(200).await;
    let taken = [('C', 2u32), ('A', 1), ('L', 18), ('J', 12)];
    let labels: Vec<String> = taken.iter().map(|(r, n)| format!("{r}{n}")).collect();
    let (status, booking) = node
        .book(json!({"userId": "first", "showtimeId": showtime, "seats": labels}))
        .await;
    assert_eq!(status, 201, "{booking}");

    let mut tried = 0;
    for (row, number) in taken {
        for spelling in respellings(row, number) {
            let (status, answer) = node
                .book(json!({"userId": "second", "showtimeId": showtime, "seats": [spelling]}))
                .await;
            assert_eq!(status, 422, "{spelling:?} -> {answer}");
            assert_eq!(answer["error"]["code"], "invalid_input", "{spelling:?}");
            tried += 1;
        }
    }
    // And a free seat listed twice under two spellings is one seat listed
    // once plus something that is no seat.
    let (status, _) = node
        .book(json!({"userId": "second", "showtimeId": showtime, "seats": ["D3", "D+3"]}))
        .await;
    assert_eq!(status, 422);
    assert!(tried > 80, "only {tried} spellings tried");

    let mut held = not_available(&seat_states(&node, showtime, "first").await);
    held.sort();
    let mut expected = labels.clone();
    expected.sort();
    assert_eq!(held, expected, "exactly the first booking's seats are held");
    let second: Value = node.get_json("/api/bookings?userId=second").await;
    assert_eq!(
        second,
        json!([]),
        "nothing was booked under another spelling"
    );
}

#[tokio::test]
async fn movies_added_by_two_nodes_unaware_of_each_other_get_different_ids() {
    // Two nodes' databases, each adding a movie without having heard of the
    // other's: the ids still differ, so the copies can never be confused.
    let server = std::env::var("DATABASE_URL").unwrap();
    let movie = app::model::NewMovie {
        title: "Parallel Lines".into(),
        description: "Two of them.".into(),
        genres: vec!["Drama".into()],
        rating: 7.0,
        duration_minutes: 100,
        release_year: 2026,
        certificate: "PG".into(),
        poster_url: None,
    };
    let mut ids = Vec::new();
    for node in [2u32, 3] {
        let name = format!("it_movie_ids_{node}_{}", std::process::id());
        moviebook::store::ensure_database(&server, &name)
            .await
            .unwrap();
        let url = moviebook::store::url_with_database(&server, &name);
        let store = moviebook::store::Store::connect(&url, 2).await.unwrap();
        store.migrate().await.unwrap();
        let added = store
            .insert_movie(node, &movie, "/posters/default.svg")
            .await
            .unwrap();
        assert_eq!(
            added.id % 1000,
            i64::from(node),
            "the id ends in the node's id"
        );
        ids.push(added.id);
    }
    assert_ne!(ids[0], ids[1]);
}

/// A page of another site (a form posted, a script's fetch) cannot book or
/// cancel: the browser says where the request comes from, and the node
/// refuses it with a 403, changing nothing. The same request from the
/// site itself, or from a client that is not a browser page, goes through.
#[tokio::test]
async fn requests_from_other_sites_change_nothing() {
    let node = start_node("cross_site").await;
    let showtime = node.future_showtime(1).await;
    let booking = json!({"userId": "ivy", "showtimeId": showtime, "seats": ["E5"]});
    let ivy = node.user_token("ivy");
    let post = |headers: &[(&'static str, &'static str)]| {
        let mut request = node
            .client
            .post(node.url("/api/bookings"))
            .bearer_auth(&ivy)
            .json(&booking);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send()
    };

    let from_other_sites: [&[(&str, &str)]; 3] = [
        &[
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://evil.example"),
        ],
        &[("sec-fetch-site", "same-site")],
        &[("origin", "https://evil.example")],
    ];
    for headers in from_other_sites {
        let refused = post(headers).await.unwrap();
        assert_eq!(refused.status(), 403, "{headers:?}");
        assert_eq!(refused.headers()["x-content-type-options"], "nosniff");
        let error: Value = refused.json().await.unwrap();
        assert_eq!(error["error"]["code"], "forbidden");
    }
    assert!(not_available(&seat_states(&node, showtime, "ivy").await).is_empty());

    let from_the_site = post(&[("sec-fetch-site", "same-origin")]).await.unwrap();
    assert_eq!(from_the_site.status(), 201);
    let id = from_the_site.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let cancel = node
        .client
        .delete(node.url(&format!("/api/bookings?id={id}&userId=ivy")))
        .bearer_auth(&ivy)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), 403);
    let still: Value = node.get_json(&format!("/api/bookings?id={id}")).await;
    assert_eq!(still["status"], "confirmed");
    // Reading from another site is not refused: it changes nothing.
    let read = node
        .client
        .get(node.url(&format!("/api/bookings?id={id}")))
        .bearer_auth(&ivy)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
}

/// A moviegoer's identity comes from the server: `POST /api/sessions`
/// gives a user id it chose, in a session sent back as a bearer token or a
/// cookie. Without one nothing is booked (401); with one, a booking is
/// made for its user id only, and only its owner (or an operator) reads or
/// cancels it (403 for anyone else). A user id set in a cookie by hand
/// names no one.
#[tokio::test]
async fn moviegoers_are_who_their_session_says() {
    let node = start_node("sessions").await;
    let showtime = node.future_showtime(2).await;
    let (status, session) = node
        .send_json(
            reqwest::Method::POST,
            "/api/sessions",
            json!({"name": "  Ada  "}),
        )
        .await;
    assert_eq!(status, 201, "{session}");
    assert_eq!(session["userName"], "Ada");
    let ada = session["userId"].as_str().unwrap().to_string();
    assert!(ada.starts_with("u-") && ada.len() == 34, "{ada}");
    let token = session["token"].as_str().unwrap().to_string();
    let (status, _) = node
        .send_json(
            reqwest::Method::POST,
            "/api/sessions",
            json!({"name": "\u{7}"}),
        )
        .await;
    assert_eq!(status, 422, "a bad name gets no session");

    let body = json!({"showtimeId": showtime, "seats": ["D4"]});
    let post = reqwest::Method::POST;
    let (status, error) = node
        .send_json(post.clone(), "/api/bookings", body.clone())
        .await;
    assert_eq!(
        (status, &error["error"]["code"]),
        (401, &json!("sign_in_required"))
    );
    let (status, _) = node
        .send_json_as(
            Some(&token),
            post.clone(),
            "/api/bookings",
            json!({"userId": "bob", "showtimeId": showtime, "seats": ["D4"]}),
        )
        .await;
    assert_eq!(status, 403, "a session books for its own user id only");
    assert!(not_available(&seat_states(&node, showtime, "x").await).is_empty());
    let (status, booking) = node
        .send_json_as(Some(&token), post, "/api/bookings", body)
        .await;
    assert_eq!(status, 201, "{booking}");
    assert_eq!(booking["userId"], json!(ada));
    let id = booking["id"].as_str().unwrap().to_string();

    let by_id = format!("/api/bookings?id={id}");
    let all_of_ada = format!("/api/bookings?userId={ada}");
    let get = reqwest::Method::GET;
    let bob = node.user_token("u-bob");
    let posing = node
        .client
        .get(node.url(&by_id))
        .header("cookie", format!("mb_user={ada}"))
        .send()
        .await
        .unwrap();
    assert_eq!(posing.status(), 401, "a hand-set user id names no one");
    for path in [&by_id, &all_of_ada] {
        let (status, _) = node
            .send_json_as(None, get.clone(), path, Value::Null)
            .await;
        assert_eq!(status, 401, "anonymous {path}");
        let (status, _) = node
            .send_json_as(Some(&bob), get.clone(), path, Value::Null)
            .await;
        assert_eq!(status, 403, "another moviegoer's {path}");
        let (status, _) = node
            .send_json_as(Some(&token), get.clone(), path, Value::Null)
            .await;
        assert_eq!(status, 200, "the owner's {path}");
    }
    let (status, _) = node.cancel(&id, "u-bob").await;
    assert_eq!(status, 403);
    // The cookie a browser gets works as the bearer token does.
    let cancelled = node
        .client
        .delete(node.url(&by_id))
        .header("cookie", format!("mb_user={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 200);
}
