"""``quickcam dropbox-auth``: get a Dropbox refresh token once, upload for weeks.

Walks the user through Dropbox's OAuth2 flow without a redirect URL (PKCE,
``token_access_type='offline'``): open a link, press Allow, paste the code.
Prints the lines to put in tokens.env. Nothing is written to disk here.
"""

from __future__ import annotations

import click


@click.command("dropbox-auth")
@click.option(
    "--app-key",
    envvar="DROPBOX_APP_KEY",
    prompt="Dropbox app key (App Console > your app > Settings)",
    help="The app key of your Dropbox app [env DROPBOX_APP_KEY].",
)
@click.option(
    "--app-secret",
    envvar="DROPBOX_APP_SECRET",
    default="",
    help="The app secret; optional, the PKCE flow does not need it [env DROPBOX_APP_SECRET].",
)
@click.option(
    "--code",
    default=None,
    help="The authorization code, if you already have it (otherwise you are asked).",
)
def dropbox_auth(app_key: str, app_secret: str, code: str | None) -> None:
    """Authorize QuickSecurityCam for your Dropbox and print the tokens.env lines."""
    # Imported here so that listing the CLI's commands never loads the SDK.
    from dropbox.oauth import DropboxOAuth2FlowNoRedirect

    app_key = app_key.strip()
    if not app_key:
        raise click.ClickException("an app key is needed: create an app at dropbox.com/developers")
    flow = DropboxOAuth2FlowNoRedirect(
        app_key,
        consumer_secret=app_secret.strip() or None,
        use_pkce=True,
        token_access_type="offline",
    )
    authorize_url = flow.start()
    click.echo("1. Open this address in a browser and sign in to Dropbox:")
    click.echo(f"   {authorize_url}")
    click.echo('2. Press "Allow" (you may need to sign in first).')
    click.echo("3. Copy the authorization code Dropbox shows you.")
    if code is None:
        code = click.prompt("Authorization code").strip()
    try:
        result = flow.finish(code.strip())
    except Exception as exc:  # requests errors, the SDK's own: one line for the user
        raise click.ClickException(f"Dropbox did not accept the code: {exc}") from exc
    if not result.refresh_token:
        raise click.ClickException(
            "Dropbox returned no refresh token; check that the app allows offline access"
        )
    click.echo("")
    click.echo("Authorized. Put these lines in tokens.env (chmod 600 tokens.env):")
    click.echo("")
    click.echo(f"DROPBOX_APP_KEY={app_key}")
    if app_secret.strip():
        click.echo(f"DROPBOX_APP_SECRET={app_secret.strip()}")
    click.echo(f"DROPBOX_REFRESH_TOKEN={result.refresh_token}")
