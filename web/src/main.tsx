// Entry: mounts the app and resumes a stored session.
import { render } from 'preact'
import { restoreSession } from './session.ts'
import { App } from './ui/app.tsx'
import './styles.css'

render(<App />, document.getElementById('root')!)
void restoreSession()
